//! The policy engine: policies parsed, checked and compiled once; decisions
//! reuse them with no shared lock: a per-thread copy of the prepared
//! regorus interpreter, or, when asked for, of its compiled VM. Each thread
//! also keeps the `tool` part of the input per tool.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    path::PathBuf,
    sync::{Arc, Weak},
};

use regorus::{
    CompiledPolicy, Engine, Value,
    languages::rego::compiler::Compiler,
    rvm::{Program, vm::RegoVM},
};
use rustchain_tools_core::{RegisteredTool, ToolRequest};

use crate::{
    Decision, PolicyError,
    cache::{CachePlan, DecisionCache},
    input::{self, Environment, InputBuilder},
    sources::{self, DEFAULT_POLICY_FILES, Kind, SHIPPED, SourceFile},
};

/// The rule every decision evaluates: generated from the loaded packages.
const ENTRY: &str = "data.rustchain.decision.decision";

/// Bounds a runaway rule (a huge comprehension, say); past it the decision
/// is an evaluation error, so a denial.
const MAX_INSTRUCTIONS: usize = 2_000_000;

/// Which policies to load and what environment decisions see.
///
/// ```
/// use rustchain_tools_policy::{PolicyConfig, PolicyEngine};
///
/// let engine = PolicyEngine::load(&PolicyConfig::new().profile("sox"))?;
/// # Ok::<(), rustchain_tools_policy::PolicyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PolicyConfig {
    default_policy: bool,
    shipped_tests: bool,
    dirs: Vec<PathBuf>,
    files: Vec<(String, String)>,
    profiles: Vec<String>,
    labels: BTreeMap<String, String>,
    compiled_vm: bool,
    reuse_decisions: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig::new()
    }
}

impl PolicyConfig {
    /// The shipped default policy (role table in `grants.json`), no profile.
    pub fn new() -> Self {
        PolicyConfig {
            default_policy: true,
            shipped_tests: false,
            dirs: Vec::new(),
            files: Vec::new(),
            profiles: Vec::new(),
            labels: BTreeMap::new(),
            compiled_vm: false,
            reuse_decisions: true,
        }
    }

    /// Decides on regorus's compiled VM (`rvm`) instead of its interpreter:
    /// several times faster, but in regorus 0.14 an error of a builtin inside
    /// a rule body (`to_number("x")`, `count(5)`) reads as "undefined" even
    /// in strict mode, so a `deny` rule that errs does not fire. Off by
    /// default: the interpreter fails such a decision, which denies.
    pub fn compiled_vm(mut self, on: bool) -> Self {
        self.compiled_vm = on;
        self
    }

    /// Reuses a decision for a later call that agrees with it on everything
    /// the policies read: the tool, the principal, and the argument fields
    /// the modules refer to (all arguments when a module reads them whole).
    /// On by default; it is off by itself for policies that read the call's
    /// id or the whole input, or may call a builtin whose value varies
    /// (`time.now_ns`, `rand.*`, `http.send`, ...). Each thread keeps its own
    /// decisions, at most 4,096, and a reload starts afresh.
    pub fn reuse_decisions(mut self, on: bool) -> Self {
        self.reuse_decisions = on;
        self
    }

    /// Leaves out the shipped default policy and its role table (the shipped
    /// helpers and profiles stay available); your modules must then declare
    /// `allow` in package `rustchain.authz`.
    pub fn without_default_policy(mut self) -> Self {
        self.default_policy = false;
        self
    }

    /// Adds every `.rego` and `.json` file below `dir`. Modules add rules to
    /// the shipped ones; data documents are merged over the shipped ones
    /// (objects key by key, anything else replaced), so a `grants.json` that
    /// names one role changes that role only. `*_test.rego` files are only
    /// read by [`run_policy_tests`](crate::run_policy_tests).
    pub fn policy_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Adds one module (`name` ends in `.rego`) or data document (`.json`)
    /// given as text.
    pub fn file(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.files.push((name.into(), text.into()));
        self
    }

    /// Applies the compliance profile `name` (`sox`, `read-only`, or one of
    /// yours in package `rustchain.profiles.NAME`; `-` and `_` are the same).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profiles.push(name.into());
        self
    }

    /// A deployment label, seen as `input.environment.labels[key]`.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Also runs the shipped Rego tests in [`run_policy_tests`](crate::run_policy_tests).
    pub fn with_shipped_tests(mut self) -> Self {
        self.shipped_tests = true;
        self
    }

    /// The directories [`policy_dir`](Self::policy_dir) added.
    pub(crate) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The profiles asked for, normalised to package names.
    fn profile_packages(&self) -> Vec<String> {
        let mut names: Vec<String> = self.profiles.iter().map(|p| p.replace('-', "_")).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every source file, shipped first, then directories, then given files.
    pub(crate) fn sources(&self) -> Result<Vec<SourceFile>, PolicyError> {
        let mut out: Vec<SourceFile> = SHIPPED
            .iter()
            .filter(|(name, _)| self.default_policy || !DEFAULT_POLICY_FILES.contains(name))
            .map(|(name, text)| SourceFile::new(*name, *text))
            .filter(|f| f.kind != Kind::RegoTest || self.shipped_tests)
            .collect();
        for dir in &self.dirs {
            out.extend(sources::read_dir(dir)?);
        }
        out.extend(
            self.files
                .iter()
                .map(|(name, text)| SourceFile::new(name.clone(), text.clone())),
        );
        Ok(out)
    }
}

/// Loaded policies, parsed and checked; the regorus engine holds them with
/// the merged data. `with_tests` also loads `*_test.rego` modules.
pub(crate) struct Loaded {
    pub engine: Engine,
    pub data: Value,
    pub packages: BTreeSet<String>,
    /// Every path below `input` the modules read.
    pub reads: Vec<Vec<String>>,
    /// Whether a module may call a builtin that varies between calls.
    pub nondeterministic: bool,
}

pub(crate) fn load_sources(files: &[SourceFile], with_tests: bool) -> Result<Loaded, PolicyError> {
    let mut engine = Engine::new();
    let mut packages = BTreeSet::new();
    let mut findings = Vec::new();
    let mut reads = Vec::new();
    let mut nondeterministic = false;
    let mut data = serde_json::Value::Object(serde_json::Map::new());
    for file in files {
        match file.kind {
            Kind::Data => {
                let doc: serde_json::Value =
                    serde_json::from_str(&file.text).map_err(|e| PolicyError::Data {
                        file: file.name.clone(),
                        message: e.to_string(),
                    })?;
                if !doc.is_object() {
                    return Err(PolicyError::Data {
                        file: file.name.clone(),
                        message: "a data document must be a JSON object".into(),
                    });
                }
                merge(&mut data, doc);
            }
            Kind::RegoTest if !with_tests => {}
            Kind::Rego | Kind::RegoTest => {
                let scan = sources::scan_input(file)?;
                findings.extend(scan.findings);
                reads.extend(scan.paths);
                nondeterministic |= sources::calls_nondeterministic(file);
                let package = sources::add_module(&mut engine, file)?;
                if file.kind == Kind::Rego {
                    sources::check_package(file, &package)?;
                }
                packages.insert(package);
            }
        }
    }
    if !findings.is_empty() {
        return Err(PolicyError::UnknownInputFields { findings });
    }
    let data = Value::from(data);
    engine
        .add_data(data.clone())
        .map_err(|e| PolicyError::Data {
            file: "(merged data documents)".into(),
            message: e.to_string(),
        })?;
    Ok(Loaded {
        engine,
        data,
        packages,
        reads,
        nondeterministic,
    })
}

/// Merges `over` into `base`: objects key by key, anything else replaced.
fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(base), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// Evaluates prepared policies; cheap to clone and shared by every thread.
///
/// A decision never fails: an evaluation error, or a rule that yields the
/// wrong type, is a denial whose reason says so (with file and line when
/// regorus gives them).
#[derive(Clone)]
pub struct PolicyEngine {
    inner: Arc<Prepared>,
}

struct Prepared {
    /// The compiled VM program; `None` when regorus's compiler does not
    /// cover a construct the policies use, and the interpreter runs instead.
    program: Option<Arc<Program>>,
    /// The interpreter's form, for that fallback and for error locations.
    compiled: CompiledPolicy,
    /// The prepared interpreter each thread copies once: evaluating on a
    /// kept engine saves the engine `compiled` makes and drops per decision.
    interpreter: Engine,
    data: Value,
    input: InputBuilder,
    /// Why the VM is not used, when it is not.
    vm_unavailable: Option<String>,
    /// A digest of every source and the profiles: which policy decided.
    revision: String,
    /// What of a call decides, when decisions may be reused.
    cache: Option<CachePlan>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("profiles", &self.inner.input.env.profiles)
            .field("vm", &self.inner.program.is_some())
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// Loads, checks and compiles the policies `config` names. Refuses
    /// syntax errors, modules in packages RustChain does not read, input
    /// fields the documented input never has, a missing `allow` rule and
    /// unknown profiles.
    pub fn load(config: &PolicyConfig) -> Result<Self, PolicyError> {
        let files = config.sources()?;
        let revision = revision(&files, &config.profile_packages());
        let mut loaded = load_sources(&files, false)?;
        let rules = sources::declared_rules(&mut loaded.engine);
        let declares =
            |package: &str, rule: &str| rules.iter().any(|(p, r)| p == package && r == rule);
        if !declares("rustchain.authz", "allow") {
            return Err(PolicyError::MissingRule {
                rule: "data.rustchain.authz.allow".into(),
                hint: "add `allow if { ... }` in package rustchain.authz (or keep the shipped \
                       default policy); without it every call is denied"
                    .into(),
            });
        }
        let known: Vec<String> = loaded
            .packages
            .iter()
            .filter_map(|p| p.strip_prefix("rustchain.profiles."))
            .map(|p| p.replace('_', "-"))
            .collect();
        let profiles = config.profile_packages();
        for profile in &profiles {
            if !loaded
                .packages
                .contains(&format!("rustchain.profiles.{profile}"))
            {
                return Err(PolicyError::UnknownProfile {
                    profile: profile.replace('_', "-"),
                    known,
                });
            }
        }
        loaded.engine.set_strict_builtin_errors(true);
        let maybe_undefined = sources::maybe_undefined_rules(&mut loaded.engine);
        let aggregate = aggregate_module(&profiles, &rules, &maybe_undefined);
        let generated = SourceFile::new("<generated>/decision.rego", aggregate);
        sources::add_module(&mut loaded.engine, &generated)?;
        let cache = if config.reuse_decisions {
            let mut reads = std::mem::take(&mut loaded.reads);
            reads.extend(sources::scan_input(&generated)?.paths);
            CachePlan::new(&reads, loaded.nondeterministic)
        } else {
            None
        };
        let compiled = loaded
            .engine
            .compile_with_entrypoint(&ENTRY.into())
            .map_err(|e| PolicyError::Prepare {
                message: e.to_string(),
            })?;
        let (program, vm_unavailable) = if !config.compiled_vm {
            (
                None,
                Some("not asked for (PolicyConfig::compiled_vm)".to_owned()),
            )
        } else {
            match Compiler::compile_from_policy(&compiled, &[ENTRY]) {
                Ok(program) => (Some(program), None),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        let env = Environment {
            profiles: profiles.iter().map(|p| p.replace('_', "-")).collect(),
            labels: config.labels.clone(),
        };
        let engine = PolicyEngine {
            inner: Arc::new(Prepared {
                program,
                compiled,
                interpreter: loaded.engine,
                data: loaded.data,
                input: InputBuilder::new(env),
                vm_unavailable,
                revision,
                cache,
            }),
        };
        // A data document that collides with a rule (data.rustchain.authz,
        // say) is refused now rather than denying every call later.
        if let Some(program) = &engine.inner.program {
            let mut vm = RegoVM::new();
            vm.load_program(program.clone());
            vm.set_data(engine.inner.data.clone())
                .map_err(|e| PolicyError::Data {
                    file: "(merged data documents)".into(),
                    message: e.to_string(),
                })?;
        }
        Ok(engine)
    }

    /// Which policies these are: the first 16 hex digits of a SHA-256 over
    /// every source file (name and text) and the profiles applied, so that
    /// a record of a decision names the exact policy that made it.
    pub fn revision(&self) -> &str {
        &self.inner.revision
    }

    /// The compliance profiles applied (as `input.environment.profiles`).
    pub fn profiles(&self) -> &[String] {
        &self.inner.input.env.profiles
    }

    /// Why decisions run on regorus's interpreter rather than its compiled
    /// VM, if they do (slower, same results).
    pub fn vm_unavailable(&self) -> Option<&str> {
        self.inner.vm_unavailable.as_deref()
    }

    /// Decides about a call on its way through the pipeline.
    pub fn decide(&self, request: &ToolRequest) -> Decision {
        let key = self.inner.cache.as_ref().map(|plan| plan.key(request));
        if let Some(key) = &key
            && let Some(Some(decision)) =
                with_worker(&self.inner, |worker| worker.decisions.get(key))
        {
            return decision;
        }
        let input = &self.inner.input;
        let tool = with_worker(&self.inner, |worker| {
            worker.tool(&request.tool, || input.tool(request.tool.metadata()))
        })
        .unwrap_or_else(|| input.tool(request.tool.metadata()));
        let decision = self.decide_value(input.document(request, tool));
        if let Some(key) = key {
            with_worker(&self.inner, |worker| {
                worker
                    .decisions
                    .insert(key, &request.tool, decision.clone());
            });
        }
        decision
    }

    /// Whether decisions are reused for calls that agree on everything the
    /// policies read (see [`PolicyConfig::reuse_decisions`]); false when
    /// the policies read the call's id or the whole input, or may call a
    /// builtin whose value varies.
    pub fn reuses_decisions(&self) -> bool {
        self.inner.cache.is_some()
    }

    /// This thread's decision cache counters for this engine: (hits, misses).
    pub fn cache_counters(&self) -> (u64, u64) {
        with_worker(&self.inner, |w| (w.decisions.hits, w.decisions.misses)).unwrap_or((0, 0))
    }

    /// Decides about an input document given as JSON (`policy eval`); an
    /// input without `environment` gets the engine's.
    pub fn decide_input(&self, input: &serde_json::Value) -> Decision {
        let mut value = input::from_json(input);
        if let Value::Object(object) = &mut value {
            let key = Value::from("environment");
            if !object.contains_key(&key) {
                regorus::Rc::make_mut(object).insert(key, self.inner.input.environment.clone());
            }
        } else {
            return Decision::broken("the input document must be a JSON object");
        }
        self.decide_value(value)
    }

    fn decide_value(&self, input: Value) -> Decision {
        let prepared = &self.inner;
        let result = match &prepared.program {
            Some(program) => with_worker(&self.inner, |worker| {
                let vm = worker.vm(prepared, program)?;
                vm.set_input(input.clone());
                vm.execute().map_err(|e| e.to_string())
            })
            .unwrap_or_else(|| Err("policy evaluation re-entered on one thread".to_owned())),
            None => with_worker(&self.inner, |worker| {
                let engine = worker
                    .interpreter
                    .get_or_insert_with(|| prepared.interpreter.clone());
                engine.set_input(input.clone());
                engine.eval_rule(ENTRY.to_owned())
            })
            .unwrap_or_else(|| prepared.compiled.eval_with_input(input.clone()))
            .map_err(|e| e.to_string()),
        };
        match result {
            Ok(value) => Decision::from_value(&value),
            Err(message) if prepared.program.is_none() => {
                Decision::broken(format!("evaluation failed: {message}"))
            }
            Err(vm_error) => {
                // The VM's errors carry no source position; the interpreter's
                // do, and errors are rare enough to evaluate twice.
                let message = match prepared.compiled.eval_with_input(input) {
                    Err(e) => e.to_string(),
                    Ok(_) => vm_error,
                };
                Decision::broken(format!("evaluation failed: {message}"))
            }
        }
    }
}

thread_local! {
    /// What each thread keeps per engine: a VM holds per-execution state,
    /// and sharing one, or one cache of tool inputs, would need a lock on
    /// every decision.
    static WORKERS: RefCell<Vec<(Weak<Prepared>, Worker)>> = const { RefCell::new(Vec::new()) };
}

/// Past this many cached tool parts, entries of dropped tools are removed
/// (and, if that is not enough, all): a bound for processes that register
/// tools without end.
const MAX_CACHED_TOOLS: usize = 1024;

/// One thread's state for one engine.
#[derive(Default)]
struct Worker {
    vm: Option<RegoVM>,
    interpreter: Option<Engine>,
    /// The `tool` part of the input by tool. The weak reference keeps the
    /// allocation, so its address is not reused by another tool while the
    /// entry exists; a registered tool's metadata never changes.
    tools: HashMap<*const RegisteredTool, (Weak<RegisteredTool>, Value)>,
    decisions: DecisionCache,
}

impl Worker {
    fn tool(&mut self, tool: &Arc<RegisteredTool>, build: impl FnOnce() -> Value) -> Value {
        let key = Arc::as_ptr(tool);
        if let Some((_, value)) = self.tools.get(&key) {
            return value.clone();
        }
        if self.tools.len() >= MAX_CACHED_TOOLS {
            self.tools.retain(|_, (weak, _)| weak.strong_count() > 0);
            if self.tools.len() >= MAX_CACHED_TOOLS {
                self.tools.clear();
            }
        }
        let value = build();
        self.tools
            .insert(key, (Arc::downgrade(tool), value.clone()));
        value
    }

    fn vm(&mut self, prepared: &Prepared, program: &Arc<Program>) -> Result<&mut RegoVM, String> {
        if self.vm.is_none() {
            let mut vm = RegoVM::new();
            vm.load_program(program.clone());
            vm.set_max_instructions(MAX_INSTRUCTIONS);
            // A builtin's error must not turn into `undefined`, where a
            // `not` would flip it into a match: it fails the decision.
            vm.set_strict_builtin_errors(true);
            vm.set_data(prepared.data.clone())
                .map_err(|e| e.to_string())?;
            self.vm = Some(vm);
        }
        self.vm
            .as_mut()
            .ok_or_else(|| "the policy VM could not be made".to_owned())
    }
}

/// Runs `f` with this thread's state for `prepared`; `None` when a decision
/// is already running on this thread (a policy re-entering the engine).
fn with_worker<R>(prepared: &Arc<Prepared>, f: impl FnOnce(&mut Worker) -> R) -> Option<R> {
    WORKERS.with(|cell| {
        let mut workers = cell.try_borrow_mut().ok()?;
        let found = workers
            .iter()
            .position(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(prepared)));
        let index = match found {
            Some(i) => i,
            None => {
                // Engines dropped since (a reload) leave their state here; drop it.
                workers.retain(|(weak, _)| weak.strong_count() > 0);
                workers.push((Arc::downgrade(prepared), Worker::default()));
                workers.len() - 1
            }
        };
        Some(f(&mut workers[index].1))
    })
}

/// The generated module that gathers what the packages decide into one
/// value, so that a decision is one evaluation. Only rules some module
/// declares are referenced (a reference to an undeclared rule costs a
/// lookup on every decision); `unmet` is read only when nothing allowed the
/// call. A rule that may be undefined is read through a rule with a default
/// (`[]`); one declared only by `contains` is read directly, which saves a
/// rule evaluation per decision. Types are checked in Rust.
fn aggregate_module(
    profiles: &[String],
    declared: &[(String, String)],
    maybe_undefined: &[(String, String)],
) -> String {
    let declares =
        |package: &str, rule: &str| declared.iter().any(|(p, r)| p == package && r == rule);
    let may_be_undefined = |package: &str, rule: &str| {
        maybe_undefined
            .iter()
            .any(|(p, r)| p == package && r == rule)
    };
    let mut packages = vec!["rustchain.authz".to_owned()];
    packages.extend(profiles.iter().map(|p| format!("rustchain.profiles.{p}")));
    let mut text = String::from("package rustchain.decision\n\nimport rego.v1\n");
    // `allow` and `unmet` as arrays of zero or one value (read in Rust): a
    // comprehension costs the interpreter less than a rule with a default.
    // Unification (`=`), not `:=`: regorus 0.14's VM lets `x := undefined`
    // succeed inside a comprehension.
    let allow = "[x | x = data.rustchain.authz.allow]";
    let unmet = if declares("rustchain.authz", "unmet") {
        "[x | not data.rustchain.authz.allow == true; x = data.rustchain.authz.unmet]"
    } else {
        "[]"
    };
    let mut fields: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, package) in packages.iter().enumerate() {
        for rule in ["deny", "redact", "timeout_ms"] {
            let value = if !declares(package, rule) {
                "[]".to_owned()
            } else if !may_be_undefined(package, rule) {
                format!("data.{package}.{rule}")
            } else {
                let _ = write!(
                    text,
                    "\ndefault {rule}_{i} := []\n\n{rule}_{i} := data.{package}.{rule}\n"
                );
                format!("{rule}_{i}")
            };
            fields
                .entry(rule)
                .or_default()
                .push(format!("\"{package}\": {value}"));
        }
    }
    let _ = write!(
        text,
        "\ndecision := {{\n\t\"allow\": {allow},\n\t\"unmet\": {unmet},\n"
    );
    for (rule, entries) in fields {
        let _ = writeln!(text, "\t\"{rule}\": {{{}}},", entries.join(", "));
    }
    text.push_str("}\n");
    text
}

fn revision(files: &[SourceFile], profiles: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    // Lengths first, so that no two different lists hash alike.
    for (name, text) in files.iter().map(|f| (&f.name, &f.text)) {
        for part in [name.as_bytes(), text.as_bytes()] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
    }
    for profile in profiles {
        hash.update((profile.len() as u64).to_le_bytes());
        hash.update(profile.as_bytes());
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregate_names_each_package() {
        let declared = vec![
            ("rustchain.authz".to_owned(), "allow".to_owned()),
            ("rustchain.profiles.sox".to_owned(), "deny".to_owned()),
        ];
        let text = aggregate_module(&["sox".into()], &declared, &[]);
        assert!(text.contains("\"rustchain.authz\": []"), "{text}");
        assert!(
            text.contains("\"rustchain.profiles.sox\": data.rustchain.profiles.sox.deny"),
            "{text}"
        );
        let maybe_undefined = vec![("rustchain.profiles.sox".to_owned(), "deny".to_owned())];
        let text = aggregate_module(&["sox".into()], &declared, &maybe_undefined);
        assert!(
            text.contains("deny_1 := data.rustchain.profiles.sox.deny"),
            "{text}"
        );
        assert!(
            text.contains("\"rustchain.profiles.sox\": deny_1"),
            "{text}"
        );
    }

    #[test]
    fn data_documents_merge_key_by_key() {
        let mut base = serde_json::json!({"a": {"b": 1, "c": [1]}, "d": 1});
        merge(&mut base, serde_json::json!({"a": {"c": [2], "e": 3}}));
        assert_eq!(
            base,
            serde_json::json!({"a": {"b": 1, "c": [2], "e": 3}, "d": 1})
        );
    }
}
