//! `RELIABILITY.md` at the repository root, written by the reliability and hostile-input
//! tests themselves (and by `make fuzz`) when asked with `REPORT=1` (`make soak`, `make
//! shards`, `make fuzz`, `make reliability`): each rewrites its own section — one per test
//! and size — with the load it ran, the faults injected, what it measured, its result and the
//! commit of the code it ran, so the file shows what the last recorded run of each found.
//! Nothing in it is written by hand; a plain `make test` prints the same lines and leaves the
//! file alone. `every_section_ran_the_same_commit` (below, in every `cargo test`) fails when
//! the sections describe different code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use event_core::EventTimestamp;

use super::repo_root;

/// Small (every `cargo test`, a minute at most) or full (`SOAK=1`, `make soak`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Size {
    Small,
    Full,
}

impl Size {
    /// `Full` when `SOAK=1` is set.
    pub fn from_env() -> Self {
        match std::env::var("SOAK").as_deref() {
            Ok("1") | Ok("true") | Ok("yes") => Size::Full,
            _ => Size::Small,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Full => "full",
        }
    }

    /// `small` or `full`, whichever this is.
    pub fn pick<T>(self, small: T, full: T) -> T {
        match self {
            Size::Small => small,
            Size::Full => full,
        }
    }
}

/// One test's section, filled while it runs and written by `finish`.
pub struct Report {
    order: u32,
    test: String,
    size: Size,
    started: Instant,
    items: Vec<(String, String)>,
    failures: Vec<String>,
    /// `NAME=value` the test ran with, when not its default: a section of its own, and the
    /// command's prefix.
    setting: Option<String>,
    /// The command that reruns it, when not `cargo test … --test reliability … NAME`.
    command: Option<String>,
    /// How long the recorded run took, when it was not this report's own lifetime.
    duration: Option<Duration>,
    /// `finish` ran: a report dropped without it (the test panicked first) records a FAIL.
    finished: bool,
    /// Where the section goes: RELIABILITY.md when `REPORT=1` (`None`: nowhere).
    file: Option<PathBuf>,
}

impl Report {
    /// `order` places the section in the file (sections sort by order, then size).
    pub fn new(order: u32, test: &str, size: Size) -> Self {
        Report {
            order,
            test: test.to_owned(),
            size,
            started: Instant::now(),
            items: Vec::new(),
            failures: Vec::new(),
            setting: None,
            command: None,
            duration: None,
            finished: false,
            file: recording().then(report_path),
        }
    }

    /// Writes the section into `file` whatever `REPORT` says (the report's own tests).
    pub fn writing_to(mut self, file: PathBuf) -> Self {
        self.file = Some(file);
        self
    }

    /// The command that reruns this section's test, for sections not written by
    /// `tests/reliability.rs`.
    pub fn with_command(mut self, command: &str) -> Self {
        self.command = Some(command.to_owned());
        self
    }

    /// This run used `NAME=value` (an environment variable the test reads): its section is
    /// kept beside the default run's.
    pub fn with_setting(mut self, setting: Option<String>) -> Self {
        self.setting = setting;
        self
    }

    pub fn size(&self) -> Size {
        self.size
    }

    /// A `- **label**: text` line of the section (also printed).
    pub fn item(&mut self, label: &str, text: impl Into<String>) {
        let text = text.into();
        println!("[{}] {label}: {text}", self.test);
        self.items.push((label.to_owned(), text));
    }

    /// Records a broken guarantee (the test fails at `finish`).
    pub fn fail(&mut self, failure: impl Into<String>) {
        let failure = failure.into();
        eprintln!("[{}] FAILED: {failure}", self.test);
        self.failures.push(failure);
    }

    /// The recorded run took `duration` (a run this report only reads, like `make fuzz`'s).
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// `fail(message())` unless `ok`.
    pub fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(message());
        }
    }

    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// Writes the section (the result, what was recorded, the failures) and panics if a
    /// guarantee broke.
    pub fn finish(mut self) {
        self.finished = true;
        self.write();
        assert!(
            self.failures.is_empty(),
            "{}: {} guarantee(s) broken:\n{}",
            self.test,
            self.failures.len(),
            self.failures.join("\n")
        );
    }

    /// The section, into RELIABILITY.md when `REPORT=1`.
    fn write(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let elapsed = self.duration.unwrap_or_else(|| self.started.elapsed());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let date = EventTimestamp::from_unix_nanos(now * 1_000_000_000)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut body = String::new();
        let setting = self
            .setting
            .as_ref()
            .map(|s| format!(", {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            body,
            "### {} ({} size{setting})\n",
            self.test,
            self.size.name()
        );
        let result = if self.failures.is_empty() {
            "PASS: every guarantee checked held".to_owned()
        } else {
            format!("FAIL: {} guarantee(s) broken (below)", self.failures.len())
        };
        let _ = writeln!(body, "- **result**: {result}");
        // The test's own command spells its size and setting as the variables it reads.
        let command = self.command.clone().unwrap_or_else(|| {
            let soak = match self.size {
                Size::Full => "SOAK=1 ",
                Size::Small => "",
            };
            let setting = self
                .setting
                .as_ref()
                .map(|s| format!("{s} "))
                .unwrap_or_default();
            format!(
                "REPORT=1 {soak}{setting}cargo test -p integration-tests --test reliability -- --test-threads=1 {}",
                self.test
            )
        });
        let _ = writeln!(body, "- **command**: `{command}`");
        let _ = writeln!(
            body,
            "- **run**: {date}, {:.1} s, commit {}",
            elapsed.as_secs_f64(),
            commit()
        );
        for (label, text) in &self.items {
            let _ = writeln!(body, "- **{label}**: {text}");
        }
        for failure in &self.failures {
            let _ = writeln!(body, "- **broken**: {failure}");
        }
        let key = match &self.setting {
            Some(setting) => format!("{}[{setting}]", self.test),
            None => self.test.clone(),
        };
        write_section(file, self.order, &key, self.size, &body);
    }
}

impl Drop for Report {
    /// A test that panicked before `finish` (a failed `expect`, a request that never came
    /// back) must not leave the previous run's PASS in place: its section says FAIL.
    fn drop(&mut self) {
        if !self.finished {
            self.failures
                .push("the test panicked before it finished (see its output)".to_owned());
            self.write();
        }
    }
}

/// `REPORT=1`: the tests write their sections of RELIABILITY.md.
fn recording() -> bool {
    matches!(
        std::env::var("REPORT").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Files that are not code: a change to them changes nothing a test runs.
const NOT_CODE: [&str; 2] = [":(exclude)*.md", ":(exclude)**/*.md"];

/// The commit of the code that ran: the last one that changed anything but Markdown (so
/// committing RELIABILITY.md between runs keeps naming the same code), and whether the work
/// tree's code differs from it.
fn commit() -> String {
    let root = repo_root();
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .args(NOT_CODE)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = run(&["log", "-1", "--format=%h", "--abbrev=7", "--", "."]);
    let Some(head) = head.filter(|h| !h.is_empty()) else {
        return "unknown".to_owned();
    };
    let dirty = run(&["status", "--porcelain", "--untracked-files=no", "--", "."])
        .is_some_and(|status| !status.is_empty());
    match dirty {
        true => format!("{head} + uncommitted changes"),
        false => head,
    }
}

fn report_path() -> PathBuf {
    repo_root().join("RELIABILITY.md")
}

const HEADER: &str = "# Reliability under load, storage faults, crashes and hostile input

Written by the tests, never by hand: `tests/integration/tests/reliability.rs` runs the
functions under `cargo lambda watch` against DynamoDB in LocalStack, `hostile.rs` sends its
corpus of nasty requests to the same stack, and `make fuzz` records its run of the
`event-core` fuzz target. Each rewrites its own section here (`tests/integration/src/report.rs`)
with the load it ran, the faults it injected, what it measured and whether every guarantee of
`docs/contract.md` held, when run with `REPORT=1`: `make reliability` (the small sizes, which
every `make test` also runs without recording), `make soak` (the full sizes), `make shards`
and `make fuzz`. Every section names the commit of the code it ran; `make test` fails when
they differ. Storage faults come from `tests/integration/src/fault_proxy.rs`,
a proxy between the functions and DynamoDB. Latencies are local (debug builds, one 2-core
machine, an emulator), so they show shape and tails, not what AWS would give.
";

const MARK: &str = "<!-- reliability-section ";

/// Replaces (or adds) one section, keeping the others; sections sort by (order, size).
fn write_section(path: &std::path::Path, order: u32, test: &str, size: Size, body: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let mut sections: BTreeMap<(u32, String, u8), String> = BTreeMap::new();
    for chunk in existing.split(MARK).skip(1) {
        let Some((key, rest)) = chunk.split_once(" -->") else {
            continue;
        };
        let mut parts = key.split_whitespace();
        let (Some(o), Some(t), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(o), s) = (o.parse::<u32>(), u8::from(s == "full")) else {
            continue;
        };
        sections.insert((o, t.to_owned(), s), rest.trim().to_owned());
    }
    sections.insert(
        (order, test.to_owned(), u8::from(size == Size::Full)),
        body.trim().to_owned(),
    );
    let mut text = String::from(HEADER);
    for ((o, t, s), section) in &sections {
        let size = if *s == 1 { "full" } else { "small" };
        let _ = write!(text, "\n{MARK}{o} {t} {size} -->\n{section}\n");
    }
    let temporary = path.with_extension(format!("md.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text).expect("write RELIABILITY.md");
    std::fs::rename(&temporary, path).expect("replace RELIABILITY.md");
}

/// The `q`-quantile (0..=1) of `values` (sorted here), nearest rank.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The commit each section of `text` names (`- **run**: …, commit X`).
    fn section_commits(text: &str) -> Vec<(String, String)> {
        text.split(MARK)
            .skip(1)
            .filter_map(|chunk| {
                let (key, rest) = chunk.split_once(" -->")?;
                let commit = rest
                    .lines()
                    .find_map(|line| line.strip_prefix("- **run**: "))?
                    .split_once(", commit ")?
                    .1;
                Some((key.trim().to_owned(), commit.trim().to_owned()))
            })
            .collect()
    }

    /// RELIABILITY.md describes one version of the code: every section ran the same commit,
    /// with no uncommitted code changes, and none is a FAIL.
    #[test]
    fn every_section_ran_the_same_commit() {
        let text = std::fs::read_to_string(report_path()).expect("RELIABILITY.md");
        let commits = section_commits(&text);
        assert!(!commits.is_empty(), "RELIABILITY.md has no sections");
        let first = &commits[0].1;
        for (section, commit) in &commits {
            assert!(
                !commit.contains("uncommitted"),
                "section {section} ran code that was never committed ({commit}): rerun it"
            );
            assert_eq!(
                commit, first,
                "section {section} ran commit {commit}, section {} ran {first}: rerun the older ones (make reliability soak shards fuzz)",
                commits[0].0
            );
        }
        assert!(
            !text.contains("- **result**: FAIL"),
            "RELIABILITY.md records a failed run"
        );
    }

    /// A test that panics before `finish` leaves a FAIL, never the previous run's PASS.
    #[test]
    fn a_test_that_panics_before_finishing_records_a_fail() {
        let file = std::env::temp_dir().join(format!("reliability-{}.md", std::process::id()));
        let pass = Report::new(1, "t", Size::Small).writing_to(file.clone());
        pass.finish();
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains("- **result**: PASS"));
        let panicked = std::panic::catch_unwind(|| {
            let mut report = Report::new(1, "t", Size::Small).writing_to(file.clone());
            report.item("load", "some");
            panic!("a request never came back");
        });
        assert!(panicked.is_err());
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::remove_file(&file).ok();
        assert!(text.contains("- **result**: FAIL"), "{text}");
        assert!(text.contains("panicked before it finished"), "{text}");
        assert!(!text.contains("- **result**: PASS"), "{text}");
    }

    #[test]
    fn section_commits_are_read_from_the_run_line() {
        let text = format!(
            "# h\n{MARK}1 a small -->\n### a\n- **run**: 2026-12-07T00:00:00Z, 1.0 s, commit abc1234\n{MARK}2 b full -->\n- **run**: d, 2 s, commit def5678 + uncommitted changes\n"
        );
        assert_eq!(
            section_commits(&text),
            vec![
                ("1 a small".to_owned(), "abc1234".to_owned()),
                (
                    "2 b full".to_owned(),
                    "def5678 + uncommitted changes".to_owned()
                )
            ]
        );
    }
}
