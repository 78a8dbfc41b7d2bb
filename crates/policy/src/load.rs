//! Turning policy files into one validated Cedar policy set: parse every file, give each
//! policy a set-wide id and its place in the file, validate the whole set against the schema
//! in strict mode. Any problem refuses the whole set, with file, line and Cedar's message.

use crate::decision::PolicyEffect;
use crate::error::{PolicyError, Problem, SourceLocation};
use crate::schema::SCHEMA_SOURCE;
use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The extension of policy files.
pub(crate) const POLICY_EXTENSION: &str = "cedar";

/// The schema's file name inside a policy directory.
pub(crate) const SCHEMA_FILE: &str = "schema.cedarschema";

/// One policy file as read, or one broker-managed source (`acl:acme`): the name problems and
/// [`PolicyInfo::location`] are reported under, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourceFile {
    pub(crate) name: String,
    pub(crate) text: String,
}

/// One policy of the loaded set, as `schloss policy list` shows it.
#[derive(Clone, Debug)]
pub struct PolicyInfo {
    /// The `@id("...")` annotation, or `<file name>#<n>` for the n-th (0-based) policy of a
    /// file without one.
    pub id: String,
    /// The file (its path as read), or the name of the broker-managed source (`acl:acme`,
    /// see [`crate::PolicyStore::set_managed`]), with line and column.
    pub location: SourceLocation,
    pub effect: PolicyEffect,
    pub text: String,
}

/// A parsed and validated policy set.
pub(crate) struct CompiledSet {
    pub(crate) set: PolicySet,
    pub(crate) policies: Vec<PolicyInfo>,
    /// SHA-256 (hex) over the file names and contents, in name order.
    pub(crate) sha256: String,
    pub(crate) warnings: Vec<Problem>,
    /// Whether any policy reads the request time, which makes decisions uncacheable.
    pub(crate) time_dependent: bool,
    /// The set split by the tenants policy scopes pin, so a request evaluates only what can
    /// apply to it.
    pub(crate) slices: crate::slice::Slices,
    /// Index into `policies` by policy id (a decision names its policies by id).
    pub(crate) by_id: HashMap<String, usize>,
}

/// Reads every `*.cedar` file directly inside `dir`, in name order. Subdirectories (such as
/// `examples/` and `tests/`) are not read. A directory that does not exist yields no files and
/// a warning: the set is then empty, which denies every request.
pub(crate) fn read_dir(dir: &Path) -> Result<(Vec<SourceFile>, Vec<Problem>), PolicyError> {
    let mut warnings = Vec::new();
    let display = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            warnings.push(Problem {
                location: SourceLocation::file(&display),
                message: "the policy directory does not exist: every request is denied except those of super users".to_owned(),
            });
            return Ok((Vec::new(), warnings));
        }
        Err(source) => {
            return Err(PolicyError::ReadDir {
                dir: dir.to_owned(),
                source,
            })
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PolicyError::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == POLICY_EXTENSION) && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let files = paths
        .iter()
        .map(|p| read_file(p))
        .collect::<Result<Vec<_>, _>>()?;
    if let Ok(schema) = std::fs::read_to_string(dir.join(SCHEMA_FILE)) {
        if schema != SCHEMA_SOURCE {
            warnings.push(Problem {
                location: SourceLocation::file(&dir.join(SCHEMA_FILE).display().to_string()),
                message: "differs from the schema built into this broker, which is the one policies are validated against".to_owned(),
            });
        }
    }
    Ok((files, warnings))
}

pub(crate) fn read_file(path: &Path) -> Result<SourceFile, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::ReadFile {
        file: path.to_owned(),
        source,
    })?;
    Ok(SourceFile {
        name: path.display().to_string(),
        text,
    })
}

/// Parses, names and validates `files` as one set.
pub(crate) fn compile(files: &[SourceFile], schema: &Schema) -> Result<CompiledSet, PolicyError> {
    let mut problems = Vec::new();
    let mut set = PolicySet::new();
    let mut policies: Vec<PolicyInfo> = Vec::new();
    // Which file each policy id came from, to place validation errors.
    let mut origin: HashMap<String, usize> = HashMap::new();

    for (file_index, file) in files.iter().enumerate() {
        let parsed = match PolicySet::from_str(&file.text) {
            Ok(parsed) => parsed,
            Err(errors) => {
                problems.extend(
                    errors
                        .iter()
                        .map(|e| problem_at_label(&file.name, &file.text, e)),
                );
                continue;
            }
        };
        for template in parsed.templates() {
            problems.push(Problem {
                location: locate(&file.name, &file.text, &template.to_cedar(), 0),
                message: "templates (policies with `?principal` or `?resource`) are not supported in policy files".to_owned(),
            });
        }
        // Cedar numbers the policies of a text `policy0`, `policy1`, ... in source order;
        // that order lets each policy's text be found after the previous one.
        let mut in_order: Vec<(usize, &cedar_policy::Policy)> = parsed
            .policies()
            .map(|p| (source_index(p.id()), p))
            .collect();
        in_order.sort_by_key(|(index, _)| *index);
        let mut cursor = 0;
        for (n, (_, policy)) in in_order.into_iter().enumerate() {
            let text = policy.to_cedar().unwrap_or_default();
            let location = locate(&file.name, &file.text, &text, cursor);
            if let Some(offset) = file.text.get(cursor..).and_then(|rest| rest.find(&text)) {
                cursor += offset + text.len();
            }
            // The file's own name, not its path: an id must not change with the directory
            // the broker was pointed at.
            let id = policy.annotation("id").map_or_else(
                || {
                    let short = Path::new(&file.name)
                        .file_name()
                        .map_or_else(|| file.name.clone(), |n| n.to_string_lossy().into_owned());
                    format!("{short}#{n}")
                },
                str::to_owned,
            );
            if let Some(first) = policies.iter().find(|p| p.id == id) {
                problems.push(Problem {
                    location,
                    message: format!("policy id `{id}` is already used at {}", first.location),
                });
                continue;
            }
            if let Err(e) = set.add(policy.new_id(PolicyId::new(&id))) {
                problems.push(Problem {
                    location,
                    message: e.to_string(),
                });
                continue;
            }
            origin.insert(id.clone(), file_index);
            policies.push(PolicyInfo {
                id,
                location,
                effect: match policy.effect() {
                    cedar_policy::Effect::Permit => PolicyEffect::Permit,
                    cedar_policy::Effect::Forbid => PolicyEffect::Forbid,
                },
                text,
            });
        }
    }
    if !problems.is_empty() {
        return Err(PolicyError::Invalid { problems });
    }

    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    let place = |id: &PolicyId, diagnostic: &dyn Diagnostic| {
        let file = origin
            .get(AsRef::<str>::as_ref(id))
            .and_then(|index| files.get(*index));
        match file {
            Some(file) => problem_at_label(&file.name, &file.text, diagnostic),
            None => Problem {
                location: SourceLocation::file("<unknown>"),
                message: message_of(diagnostic),
            },
        }
    };
    let problems: Vec<Problem> = result
        .validation_errors()
        .map(|e| place(e.policy_id(), e))
        .collect();
    if !problems.is_empty() {
        return Err(PolicyError::Invalid { problems });
    }
    let warnings = result
        .validation_warnings()
        .map(|w| place(w.policy_id(), w))
        .collect();

    let time_dependent = set.policies().any(reads_request_time);
    let slices = crate::slice::Slices::new(&set);
    let by_id = policies
        .iter()
        .enumerate()
        .map(|(index, p)| (p.id.clone(), index))
        .collect();
    Ok(CompiledSet {
        slices,
        by_id,
        set,
        policies,
        sha256: digest(files),
        warnings,
        time_dependent,
    })
}

/// Cedar's default ids are `policy<N>`; anything else sorts last.
fn source_index(id: &PolicyId) -> usize {
    let id: &str = id.as_ref();
    id.strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Where `snippet` starts in `text`, searching from byte `from`.
fn locate(file: &str, text: &str, snippet: &str, from: usize) -> SourceLocation {
    let found = text
        .get(from..)
        .and_then(|rest| rest.find(snippet))
        .map(|offset| from + offset);
    match found {
        Some(offset) if !snippet.is_empty() => SourceLocation::at_offset(file, text, offset),
        _ => SourceLocation::file(file),
    }
}

/// A problem placed at the first labelled span of Cedar's diagnostic (offsets into the text
/// of the file the policy was parsed from).
fn problem_at_label(file: &str, text: &str, diagnostic: &dyn Diagnostic) -> Problem {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    Problem {
        location: match offset {
            Some(offset) => SourceLocation::at_offset(file, text, offset),
            None => SourceLocation::file(file),
        },
        message: message_of(diagnostic),
    }
}

/// Cedar's message, with its help text when it gives one (often "did you mean ...?").
fn message_of(diagnostic: &dyn Diagnostic) -> String {
    match diagnostic.help() {
        Some(help) => format!("{diagnostic} (help: {help})"),
        None => diagnostic.to_string(),
    }
}

fn digest(files: &[SourceFile]) -> String {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    for file in sorted {
        // Lengths first, so that moving text from one file to the next changes the hash.
        hasher.update((file.name.len() as u64).to_be_bytes());
        hasher.update(file.name.as_bytes());
        hasher.update((file.text.len() as u64).to_be_bytes());
        hasher.update(file.text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether the policy reads `context.time`, or uses `context` in a way that cannot be
/// inspected (which is then assumed to read it). Decisions of such sets change with the clock
/// and are not cached.
fn reads_request_time(policy: &cedar_policy::Policy) -> bool {
    match policy.to_json() {
        Ok(json) => mentions_time(&json),
        Err(_) => true,
    }
}

/// Walks the policy's JSON form (`{".": {"left": {"Var": "context"}, "attr": "time"}}`).
fn mentions_time(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Object(map) => map.iter().any(|(key, inner)| {
            let on_context = |inner: &Value| {
                inner
                    .get("left")
                    .and_then(|l| l.get("Var"))
                    .and_then(Value::as_str)
                    == Some("context")
            };
            if (key == "." || key == "has") && on_context(inner) {
                // Any other context key is fixed for the connection or part of the cache key.
                return inner
                    .get("attr")
                    .and_then(Value::as_str)
                    .is_none_or(|attr| attr == "time");
            }
            if key == "Var" && inner.as_str() == Some("context") {
                return true;
            }
            mentions_time(inner)
        }),
        Value::Array(items) => items.iter().any(mentions_time),
        _ => false,
    }
}
