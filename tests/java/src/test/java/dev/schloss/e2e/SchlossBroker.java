package dev.schloss.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A schloss broker running as a real process with its own temporary directory and config.
 *
 * <p>The binary is {@code $SCHLOSS_BIN} if set, else {@code <repo>/target/debug/schloss} (the
 * repo root comes from the {@code schloss.repo} system property that the pom sets). The broker
 * binds 127.0.0.1:0 and prints {@code schloss: listener PLAINTEXT on 127.0.0.1:PORT} on stdout
 * when ready; its log (stderr) goes to {@code <tmp>/broker.log}.
 */
final class SchlossBroker implements AutoCloseable {
    private static final Pattern READY =
            Pattern.compile("^schloss: listener (\\S+) on (\\S+):(\\d+)\\s*$");
    private static final long START_TIMEOUT_S = 60;

    private final Process process;
    private final Path workDir;
    private final Path logFile;
    private final String host;
    private final int port;

    private SchlossBroker(Process process, Path workDir, Path logFile, String host, int port) {
        this.process = process;
        this.workDir = workDir;
        this.logFile = logFile;
        this.host = host;
        this.port = port;
    }

    static Path binary() {
        String env = System.getenv("SCHLOSS_BIN");
        Path bin;
        if (env != null && !env.isEmpty()) {
            bin = Paths.get(env);
        } else {
            String repo = System.getProperty("schloss.repo", "../..");
            bin = Paths.get(repo, "target", "debug", "schloss");
        }
        bin = bin.toAbsolutePath().normalize();
        if (!Files.isRegularFile(bin)) {
            throw new IllegalStateException("schloss binary not found at " + bin
                    + ": build it with `cargo build --bin schloss` or set SCHLOSS_BIN");
        }
        return bin;
    }

    static SchlossBroker start(Map<String, String> topicDefaults) throws Exception {
        Path dir = Files.createTempDirectory("schloss-java-e2e-");
        StringBuilder defaults = new StringBuilder();
        for (Map.Entry<String, String> e : topicDefaults.entrySet()) {
            defaults.append(toml(e.getKey())).append(" = ").append(toml(e.getValue())).append('\n');
        }
        String config = "[broker]\n"
                + "node_id = 1\n"
                + "data_dir = " + toml(dir.resolve("data").toString()) + "\n"
                + "num_partitions = 1\n"
                + "auto_create_topics = true\n"
                + "retention_check_interval_ms = 300000\n"
                + "\n[topic_defaults]\n" + defaults
                + "\n[[listeners]]\n"
                + "name = \"PLAINTEXT\"\n"
                + "address = \"127.0.0.1:0\"\n"
                + "advertised = \"127.0.0.1:0\"\n"
                + "security_protocol = \"PLAINTEXT\"\n"
                + "tenant = \"default\"\n";
        Path cfg = dir.resolve("schloss.toml");
        Files.writeString(cfg, config);
        Path log = dir.resolve("broker.log");

        ProcessBuilder pb = new ProcessBuilder(binary().toString(), "serve", "--config", cfg.toString())
                .directory(dir.toFile())
                .redirectError(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().putIfAbsent("RUST_LOG", "info");
        pb.environment().put("NO_COLOR", "1");
        Process p = pb.start();

        CompletableFuture<String[]> ready = new CompletableFuture<>();
        Thread pump = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    Matcher m = READY.matcher(line);
                    if (m.matches() && m.group(1).equals("PLAINTEXT")) {
                        ready.complete(new String[] {m.group(2), m.group(3)});
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
            ready.completeExceptionally(new IllegalStateException("schloss stdout closed before ready"));
        }, "schloss-stdout");
        pump.setDaemon(true);
        pump.start();

        String[] hp;
        try {
            hp = ready.get(START_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (Exception e) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new IllegalStateException("schloss did not become ready (exit "
                    + (p.isAlive() ? "-" : String.valueOf(p.exitValue())) + "); log:\n" + tail(log, 60), e);
        }
        return new SchlossBroker(p, dir, log, hp[0], Integer.parseInt(hp[1]));
    }

    private static String toml(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    String bootstrap() {
        return host + ":" + port;
    }

    String host() {
        return host;
    }

    int port() {
        return port;
    }

    boolean alive() {
        return process.isAlive();
    }

    String logTail(int lines) {
        return tail(logFile, lines);
    }

    private static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "<no broker log: " + e + ">";
        }
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            process.destroy(); // SIGTERM: graceful shutdown
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (System.getenv("SCHLOSS_KEEP_TMP") == null) {
            try (Stream<Path> walk = Files.walk(workDir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
