//! The current policy generation, and its replacement. Readers take an `Arc` of the current
//! snapshot and decide with it alone; a reload builds a complete new snapshot and swaps the
//! pointer, so no decision ever sees a mix of two generations. A set that fails to load never
//! replaces a working one.
//!
//! A generation is built from the policy files plus the broker-managed sources (Kafka's ACLs,
//! rendered per tenant: [`PolicyStore::set_managed`]); a file reload keeps the managed
//! sources, a change of the managed sources keeps the files of the current generation.

use crate::error::{PolicyError, Problem, SourceLocation};
use crate::load::{self, SourceFile, POLICY_EXTENSION};
use crate::request::PrincipalName;
use crate::schema::CedarModel;
use crate::snapshot::{Engine, PolicySnapshot};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How often the server should let [`PolicyStore::watch`] look at the policy files.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How requests are authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Cedar policies: every `*.cedar` file directly inside `dir`. An empty or missing
    /// directory denies everything but super users.
    Cedar { dir: PathBuf },
    /// Everything inside one's own tenant, and operators everywhere: the zero-config default
    /// for development. No policy files are read.
    AllowTenant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    pub mode: Mode,
    /// Principals that bypass policy (Kafka's `super.users`).
    pub super_users: Vec<PrincipalName>,
}

/// What became of a load or reload, for the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadEvent {
    Accepted {
        generation: u64,
        sha256: String,
        policies: usize,
        /// Validation warnings and notes such as "the directory does not exist".
        warnings: Vec<String>,
    },
    /// The files changed on disk (or a reload was asked for) but their contents did not: the
    /// generation stays.
    Unchanged { generation: u64, sha256: String },
    /// The set was refused; `kept_generation` (none at startup) goes on deciding.
    Refused {
        kept_generation: Option<u64>,
        error: String,
    },
}

/// Called with every load and reload outcome (the audit sink plugs in here).
pub type ReloadHook = Arc<dyn Fn(&ReloadEvent) + Send + Sync>;

/// What `reload` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    Accepted { generation: u64 },
    Unchanged { generation: u64 },
}

pub struct PolicyStore {
    config: StoreConfig,
    model: Arc<CedarModel>,
    super_users: Arc<BTreeSet<PrincipalName>>,
    hook: Option<ReloadHook>,
    current: RwLock<Arc<PolicySnapshot>>,
    /// Serialises reloads, so generations are handed out in the order sets are swapped in.
    reloading: Mutex<ReloadState>,
}

struct ReloadState {
    /// What the last load saw on disk, so polling reloads only after a change and reports a
    /// broken file once rather than every second.
    seen: Option<Fingerprint>,
    /// The policy files of the current generation, which a change of the managed sources
    /// builds on (not the files on disk now: a file being edited must not block an ACL
    /// change, and the next reload picks it up).
    files: Vec<SourceFile>,
    /// The broker-managed sources of the current generation (and, in mode `allow-tenant`,
    /// the validated sources that are kept but not consulted).
    managed: Vec<SourceFile>,
}

/// Names, sizes and modification times of the policy files.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

impl PolicyStore {
    /// Loads the policies; a set that fails to read, parse or validate refuses to start
    /// (the error names file, line and Cedar's message). `hook` hears the outcome.
    pub fn open(config: StoreConfig, hook: Option<ReloadHook>) -> Result<Self, PolicyError> {
        let model = Arc::new(CedarModel::builtin()?);
        let super_users = Arc::new(config.super_users.iter().cloned().collect());
        let seen = fingerprint(&config.mode);
        let first = read(&config.mode).and_then(|(files, notes)| {
            build(&config.mode, 1, &model, &super_users, files, notes, &[])
        });
        let (snapshot, files) = match first {
            Ok((snapshot, warnings, files)) => {
                report(
                    hook.as_ref(),
                    &accepted(&snapshot, warnings, config.mode == Mode::AllowTenant),
                );
                (snapshot, files)
            }
            Err(error) => {
                report(
                    hook.as_ref(),
                    &ReloadEvent::Refused {
                        kept_generation: None,
                        error: error.to_string(),
                    },
                );
                return Err(error);
            }
        };
        Ok(Self {
            config,
            model,
            super_users,
            hook,
            current: RwLock::new(Arc::new(snapshot)),
            reloading: Mutex::new(ReloadState {
                seen,
                files,
                managed: Vec::new(),
            }),
        })
    }

    /// The current generation. Hold the `Arc` for the whole of one decision.
    pub fn snapshot(&self) -> Arc<PolicySnapshot> {
        // A panic while holding the lock cannot leave the `Arc` half-written: use it anyway.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn mode(&self) -> &Mode {
        &self.config.mode
    }

    /// Reloads now (the server calls this on SIGHUP). On error the previous generation stays
    /// in force and the refusal is reported to the hook.
    pub fn reload(&self) -> Result<ReloadOutcome, PolicyError> {
        let mut state = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.reload_locked(&mut state)
    }

    /// Reloads if the policy files changed since the last load (names, sizes or modification
    /// times); `None` when nothing changed.
    pub fn poll(&self) -> Option<Result<ReloadOutcome, PolicyError>> {
        let mut state = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if fingerprint(&self.config.mode) == state.seen {
            return None;
        }
        Some(self.reload_locked(&mut state))
    }

    fn reload_locked(&self, state: &mut ReloadState) -> Result<ReloadOutcome, PolicyError> {
        // Fingerprint before reading, so a write racing the read is seen by the next poll.
        state.seen = fingerprint(&self.config.mode);
        let mode = &self.config.mode;
        let managed = state.managed.clone();
        let built = read(mode).and_then(|(files, notes)| {
            let next = self.snapshot().generation() + 1;
            build(
                mode,
                next,
                &self.model,
                &self.super_users,
                files,
                notes,
                &managed,
            )
        });
        self.install(state, built)
    }

    /// Replaces the broker-managed sources: `(name, Cedar text)` pairs, such as
    /// `("acl:acme", render_set(&acme, &bindings))`. The next generation is the current one's
    /// policy files plus these sources, parsed and validated as one set exactly as files are
    /// (names must be unique; each names its policies' [`crate::PolicyInfo::location`]). A
    /// refused set keeps the current generation (and the current managed sources) and returns
    /// the error; every later file reload keeps the accepted sources.
    ///
    /// In mode `allow-tenant` the sources are validated and kept, but not consulted: the
    /// generation stays (`Unchanged`).
    pub fn set_managed(
        &self,
        sources: Vec<(String, String)>,
    ) -> Result<ReloadOutcome, PolicyError> {
        let mut state = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let managed: Vec<SourceFile> = sources
            .into_iter()
            .map(|(name, text)| SourceFile { name, text })
            .collect();
        let current = self.snapshot();
        let generation = current.generation();
        let checked = unique_names(&state.files, &managed);
        if let Mode::AllowTenant = self.config.mode {
            let checked =
                checked.and_then(|()| load::compile(&managed, &self.model.schema).map(drop));
            if let Err(error) = checked {
                self.refused(generation, &error);
                return Err(error);
            }
            state.managed = managed;
            return Ok(ReloadOutcome::Unchanged { generation });
        }
        let built = checked.and_then(|()| {
            build(
                &self.config.mode,
                generation + 1,
                &self.model,
                &self.super_users,
                state.files.clone(),
                Vec::new(),
                &managed,
            )
        });
        let outcome = self.install(&mut state, built)?;
        state.managed = managed;
        Ok(outcome)
    }

    /// Swaps in a built snapshot (or reports why there is none), and remembers its files.
    fn install(
        &self,
        state: &mut ReloadState,
        built: Result<(PolicySnapshot, Vec<String>, Vec<SourceFile>), PolicyError>,
    ) -> Result<ReloadOutcome, PolicyError> {
        let current = self.snapshot();
        let next = current.generation() + 1;
        let (snapshot, warnings, files) = match built {
            Ok(built) => built,
            Err(error) => {
                self.refused(current.generation(), &error);
                return Err(error);
            }
        };
        state.files = files;
        if snapshot.sha256() == current.sha256() {
            let generation = current.generation();
            report(
                self.hook.as_ref(),
                &ReloadEvent::Unchanged {
                    generation,
                    sha256: current.sha256().unwrap_or_default().to_owned(),
                },
            );
            return Ok(ReloadOutcome::Unchanged { generation });
        }
        let event = accepted(&snapshot, warnings, false);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        report(self.hook.as_ref(), &event);
        Ok(ReloadOutcome::Accepted { generation: next })
    }

    fn refused(&self, kept_generation: u64, error: &PolicyError) {
        report(
            self.hook.as_ref(),
            &ReloadEvent::Refused {
                kept_generation: Some(kept_generation),
                error: error.to_string(),
            },
        );
    }

    /// Polls for changed policy files every `every` on a thread of its own, until the returned
    /// [`Watcher`] is dropped.
    pub fn watch(self: &Arc<Self>, every: Duration) -> Result<Watcher, PolicyError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let store = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("policy-watch".to_owned())
            .spawn(move || {
                // Ends when the sender is dropped (or sends): a timeout means "poll now".
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    // The outcome already went to the hook; nothing more to do with it here.
                    let _ = store.poll();
                }
            })
            .map_err(PolicyError::Watcher)?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("mode", &self.config.mode)
            .field("current", &self.snapshot())
            .finish_non_exhaustive()
    }
}

/// Stops the polling thread of [`PolicyStore::watch`] when dropped.
pub struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panicked watcher has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

/// The policy files of `mode`, with notes such as "the directory does not exist".
fn read(mode: &Mode) -> Result<(Vec<SourceFile>, Vec<Problem>), PolicyError> {
    match mode {
        Mode::AllowTenant => Ok((Vec::new(), Vec::new())),
        Mode::Cedar { dir } => load::read_dir(dir),
    }
}

/// Managed sources need names of their own: two sources (or a source and a file) of one name
/// would make locations and the set's hash ambiguous.
fn unique_names(files: &[SourceFile], managed: &[SourceFile]) -> Result<(), PolicyError> {
    let mut problems = Vec::new();
    for (i, source) in managed.iter().enumerate() {
        let earlier = managed.get(..i).unwrap_or_default();
        if earlier.iter().chain(files).any(|s| s.name == source.name) {
            problems.push(Problem {
                location: SourceLocation::file(&source.name),
                message: format!("the managed source name `{}` is already used", source.name),
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::Invalid { problems })
    }
}

/// A complete snapshot of generation `generation` from `files` and the `managed` sources, with
/// the notes to report and the files it was built from.
fn build(
    mode: &Mode,
    generation: u64,
    model: &Arc<CedarModel>,
    super_users: &Arc<BTreeSet<PrincipalName>>,
    files: Vec<SourceFile>,
    notes: Vec<Problem>,
    managed: &[SourceFile],
) -> Result<(PolicySnapshot, Vec<String>, Vec<SourceFile>), PolicyError> {
    let (engine, notes) = match mode {
        Mode::AllowTenant => (Engine::AllowTenant, Vec::new()),
        Mode::Cedar { dir } => {
            let sources: Vec<SourceFile> = files.iter().chain(managed).cloned().collect();
            let compiled = load::compile(&sources, &model.schema)?;
            let mut notes: Vec<String> = notes.iter().map(ToString::to_string).collect();
            if compiled.policies.is_empty() && !files.is_empty() {
                notes.push(format!(
                    "{}: no policies: every request is denied except those of super users",
                    dir.display()
                ));
            } else if files.is_empty() && notes.is_empty() {
                notes.push(format!(
                    "{}: no `*.{POLICY_EXTENSION}` files: every request is denied except those of super users",
                    dir.display()
                ));
            }
            notes.extend(compiled.warnings.iter().map(ToString::to_string));
            (Engine::Cedar(Box::new(compiled)), notes)
        }
    };
    let snapshot = PolicySnapshot::new(
        generation,
        engine,
        Arc::clone(super_users),
        Arc::clone(model),
    );
    Ok((snapshot, notes, files))
}

fn accepted(snapshot: &PolicySnapshot, warnings: Vec<String>, allow_tenant: bool) -> ReloadEvent {
    ReloadEvent::Accepted {
        generation: snapshot.generation(),
        sha256: if allow_tenant {
            String::new()
        } else {
            snapshot.sha256().unwrap_or_default().to_owned()
        },
        policies: snapshot.policies().len(),
        warnings,
    }
}

fn report(hook: Option<&ReloadHook>, event: &ReloadEvent) {
    match event {
        ReloadEvent::Accepted {
            generation,
            sha256,
            policies,
            warnings,
        } => {
            tracing::info!(generation, sha256, policies, "policy set accepted");
            for warning in warnings {
                tracing::warn!(generation, "policy set: {warning}");
            }
        }
        ReloadEvent::Unchanged { generation, .. } => {
            tracing::debug!(generation, "policy files unchanged");
        }
        ReloadEvent::Refused {
            kept_generation,
            error,
        } => {
            tracing::error!(?kept_generation, "policy set refused: {error}");
        }
    }
    if let Some(hook) = hook {
        hook(event);
    }
}

fn fingerprint(mode: &Mode) -> Option<Fingerprint> {
    let Mode::Cedar { dir } = mode else {
        return None;
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        if path.extension().is_some_and(|e| e == POLICY_EXTENSION) {
            let meta = entry.metadata().ok();
            files.push((
                path,
                meta.as_ref().map_or(0, |m| m.len()),
                meta.and_then(|m| m.modified().ok()),
            ));
        }
    }
    files.sort();
    Some(files)
}

/// A snapshot of exactly `files` (generation 1), outside any store: for test tables and
/// `schloss policy explain` on chosen files. The same checks as a directory load.
pub fn load_files(
    files: &[PathBuf],
    super_users: &[PrincipalName],
) -> Result<PolicySnapshot, PolicyError> {
    let model = Arc::new(CedarModel::builtin()?);
    let sources = files
        .iter()
        .map(|f| load::read_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let compiled = load::compile(&sources, &model.schema)?;
    Ok(PolicySnapshot::new(
        1,
        Engine::Cedar(Box::new(compiled)),
        Arc::new(super_users.iter().cloned().collect()),
        model,
    ))
}
