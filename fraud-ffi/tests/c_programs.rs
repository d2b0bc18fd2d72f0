//! Builds the C and C++ examples, and a C program making every kind of bad
//! call, against the committed header and the library this `cargo test`
//! built; runs them and checks their output against the Rust engine (the
//! probabilities and explanations exactly); runs the C programs under
//! valgrind, and the C and C++ programs under clang's AddressSanitizer and
//! UndefinedBehaviorSanitizer (the threaded C++ example under
//! ThreadSanitizer too); and installs the library with `scripts/install-c.sh`
//! into a prefix, then builds a C program through pkg-config and a C++ CMake
//! project through `find_package` against it.
//!
//! Needs `cc`, `c++`, valgrind, clang with its sanitizer runtimes, pkg-config
//! and cmake (`fraud-ffi/install-test-deps.sh` installs them all); a test
//! whose tool is missing fails saying so (valgrind's says loudly that it did
//! not run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};

use fraud_engine::{synth, train, Encoded, Model, Rows, Table, TrainParams};

mod common;
use common::{describe, json_number, library_dir, workspace_dir};

const DOCUMENTED: &str = r#"{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}"#;

/// Files every test shares, made once: a model, a corrupted copy, a CSV,
/// and the compiled programs beside them.
struct Fixture {
    dir: PathBuf,
    model: Model,
}

impl Fixture {
    fn model_path(&self) -> PathBuf {
        self.dir.join("model.fem")
    }
    fn corrupt_path(&self) -> PathBuf {
        self.dir.join("corrupt.fem")
    }
    fn csv_path(&self) -> PathBuf {
        self.dir.join("transactions.csv")
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Under the target directory (a static is never dropped, so a temp
        // dir would never be removed); remade on every run, kept afterwards
        // so the programs can be rerun by hand.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fraud-ffi-c-programs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test directory");
        let params = TrainParams {
            n_trees: 25,
            ..TrainParams::default()
        };
        let model = train(&synth::generate(4_000, 21), &params).expect("train");
        let fixture = Fixture { dir, model };
        fixture
            .model
            .save(fixture.model_path())
            .expect("save model");
        let mut corrupt = fixture.model.to_bytes().expect("serializes");
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0xA5;
        std::fs::write(fixture.corrupt_path(), corrupt).expect("write corrupt model");
        synth::write_csv(&fixture.csv_path(), 300, 77).expect("write CSV");
        fixture
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Link {
    Static,
    Shared,
}

/// Compiles `source` (relative to the workspace) with warnings as errors and
/// links it against the library, once per test run (tests share programs,
/// and one must not run while another rewrites it); returns the executable.
fn build(source: &'static str, link: Link) -> PathBuf {
    static BUILT: Mutex<Vec<((&str, Link), PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, exe)) = built.iter().find(|(key, _)| *key == (source, link)) {
        return exe.clone();
    }
    let exe = compile(source, link);
    built.push(((source, link), exe.clone()));
    exe
}

fn compile(source: &str, link: Link) -> PathBuf {
    let source_path = workspace_dir().join(source);
    let cpp = source.ends_with(".cpp");
    let stem = Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("file name");
    let suffix = match link {
        Link::Static => "",
        Link::Shared => "-shared",
    };
    let exe = fixture().dir.join(format!("{stem}{suffix}"));
    let lib = library_dir();
    let mut cmd = Command::new(if cpp { "c++" } else { "cc" });
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c99" })
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(workspace_dir().join("include"))
        .arg(&source_path)
        .arg("-o")
        .arg(&exe);
    match link {
        Link::Static => {
            cmd.arg(lib.join("libfraud_engine.a"));
        }
        Link::Shared => {
            // The library's SONAME is libfraud_engine.so.MAJOR, the name an
            // install gives it; the build directory has only libfraud_engine.so.
            let soname_dir = fixture().dir.join("shared");
            let soname = soname_dir.join(format!(
                "libfraud_engine.so.{}",
                env!("CARGO_PKG_VERSION_MAJOR")
            ));
            std::fs::create_dir_all(&soname_dir).expect("create the library directory");
            if !soname.exists() {
                std::os::unix::fs::symlink(lib.join("libfraud_engine.so"), &soname)
                    .expect("link the library under its SONAME");
            }
            cmd.arg(format!("-L{}", lib.display()))
                .arg(format!("-Wl,-rpath,{}", soname_dir.display()))
                .arg("-l:libfraud_engine.so");
        }
    }
    // What `rustc --print native-static-libs` lists for this target.
    cmd.args(["-lpthread", "-ldl", "-lm", "-lrt", "-lutil"]);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "compiling {source} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Runs a program and returns its standard output; it must succeed.
fn run(mut cmd: Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(output.status.success(), "{cmd:?}: {}", describe(&output));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn command(exe: &Path, args: &[&Path]) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    cmd
}

/// The line of `output` starting with `prefix`, without the prefix.
fn line<'o>(output: &'o str, prefix: &str) -> &'o str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}...` in:\n{output}"))
}

/// Parses `is_fraud=0 fraud_probability=0.1 risk_level=LOW`.
fn parse_prediction(text: &str) -> (i32, f64, String) {
    let field = |name: &str| {
        text.split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in `{text}`"))
    };
    (
        field("is_fraud").parse().expect("is_fraud"),
        field("fraud_probability").parse().expect("probability"),
        field("risk_level").to_owned(),
    )
}

/// The engine's answer for the documented transaction, as the examples print it.
fn engine_documented() -> (i32, f64, String) {
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(DOCUMENTED).expect("json");
    let p = fixture().model.predict(&fields).expect("score");
    (
        i32::from(p.is_fraud),
        p.fraud_probability,
        p.risk_level.to_string(),
    )
}

fn check_score_transaction(output: &str) {
    let model = &fixture().model;
    assert_eq!(line(output, "fraud_engine "), env!("CARGO_PKG_VERSION"));
    assert_eq!(line(output, "features: "), model.feature_names().join(" "));
    let expected = engine_documented();
    for how in ["json: ", "typed: "] {
        let got = parse_prediction(line(output, how));
        // Exact: %.17g round-trips a double bit for bit.
        assert_eq!(got.1.to_bits(), expected.1.to_bits(), "{how}{output}");
        assert_eq!(got, expected, "{how}");
    }
    assert!(output.contains("json and typed predictions agree"));
}

#[test]
fn c_example_scores_the_documented_transaction_like_the_engine() {
    let exe = build("examples/c/score_transaction.c", Link::Static);
    check_score_transaction(&run(command(&exe, &[&fixture().model_path()])));
}

#[test]
fn c_example_links_against_the_shared_library_too() {
    let exe = build("examples/c/score_transaction.c", Link::Shared);
    check_score_transaction(&run(command(&exe, &[&fixture().model_path()])));
}

#[test]
fn c_example_scores_json_lines_and_answers_bad_ones() {
    use std::io::Write;
    let exe = build("examples/c/score_jsonl.c", Link::Static);
    let mut child = Command::new(&exe)
        .arg(fixture().model_path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let bad_hour = DOCUMENTED.replace("\"transaction_hour\":14", "\"transaction_hour\":25");
    let input =
        format!("{DOCUMENTED}\nnot json\n\n{bad_hour}\r\n{{\"amount\": 1, \"amount\": 2}}\n");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("finishes");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(DOCUMENTED).expect("json");
    let expected = fixture().model.predict(&fields).expect("scores");
    let got: f64 = lines[0]
        .split(' ')
        .nth(2)
        .expect("p")
        .parse()
        .expect("number");
    assert_eq!(
        got.to_bits(),
        expected.fraud_probability.to_bits(),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("error FRAUD_INVALID_JSON: "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("error FRAUD_INVALID_INPUT: ")
            && lines[2].contains("`transaction_hour`"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("the key `amount` appears twice"),
        "{}",
        lines[3]
    );
}

#[test]
fn c_example_scores_a_csv_batch_like_the_engine() {
    let fixture = fixture();
    let exe = build("examples/c/score_csv.c", Link::Static);
    let output = run(command(&exe, &[&fixture.model_path(), &fixture.csv_path()]));

    let table = Table::read_csv(&fixture.csv_path()).expect("read CSV");
    let mut expected = vec![0.0; table.n_rows()];
    fixture
        .model
        .predict_proba_many(Rows::Table(&table), &mut expected)
        .expect("score");
    let got: Vec<f64> = output
        .lines()
        .filter_map(|l| l.strip_prefix("row "))
        .map(|l| {
            let (_, p) = l.split_once(": ").expect("row N: p");
            p.parse().expect("probability")
        })
        .collect();
    assert_eq!(got.len(), 300, "{output}");
    for (row, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.to_bits(), e.to_bits(), "row {}: C {g}, Rust {e}", row + 1);
    }
    let flagged = expected
        .iter()
        .filter(|&&p| p >= fixture.model.threshold())
        .count();
    assert!(
        line(&output, "scored ").starts_with(&format!("300 rows, {flagged} flagged")),
        "{output}"
    );
}

#[test]
fn c_bad_calls_return_statuses() {
    let fixture = fixture();
    let exe = build("fraud-ffi/tests/c/bad_calls.c", Link::Static);
    let output = run(command(
        &exe,
        &[&fixture.model_path(), &fixture.corrupt_path()],
    ));
    let summary = line(&output, "bad_calls: ");
    assert!(summary.ends_with(" checks, 0 failed"), "{output}");
    let checks: usize = summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("check count");
    assert!(checks > 50, "{output}");
}

#[test]
fn cpp_example_scores_and_explains_from_one_shared_model() {
    let exe = build("examples/cpp/score.cpp", Link::Static);
    let output = run(command(&exe, &[&fixture().model_path()]));
    assert_eq!(
        line(&output, "features: "),
        fixture().model.feature_names().join(" ")
    );
    let expected = engine_documented();
    assert_eq!(parse_prediction(line(&output, "json: ")), expected);
    assert_eq!(parse_prediction(line(&output, "typed: ")), expected);
    check_explanation_json(line(&output, "explain: "));
    let residual: f64 = line(
        &output,
        "explained: base_value + contributions - fraud_probability = ",
    )
    .parse()
    .expect("a number");
    assert!(residual.abs() <= 1e-9, "{output}");
    assert_eq!(line(&output, "threads: "), "4000 of 4000 agree");
    assert_eq!(line(&output, "bad request: "), "FRAUD_INVALID_INPUT");
}

/// Checks that `text` is the engine's explanation of the documented
/// transaction, every number bit for bit; returns the contributions.
fn check_explanation_json(text: &str) -> Vec<f64> {
    let model = &fixture().model;
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(DOCUMENTED).expect("json");
    let expected = model.explain(&fields).expect("explain");
    let got: serde_json::Value = serde_json::from_str(text).expect("the output is JSON");
    let mut keys: Vec<&str> = got
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // The engine's one output shape, so every key the HTTP API sends.
    assert_eq!(
        got,
        serde_json::to_value(model.explained_output(&expected)).expect("serializes")
    );
    assert_eq!(
        keys,
        [
            "base_value",
            "contributions",
            "fraud_probability",
            "is_fraud",
            "model_version",
            "reasons",
            "risk_level",
            "threshold",
            "warnings"
        ]
    );
    let p = &expected.prediction;
    assert_eq!(got["is_fraud"], u8::from(p.is_fraud));
    assert_eq!(got["risk_level"], p.risk_level.as_str());
    assert_eq!(got["warnings"], serde_json::json!([]));
    let number = |key| json_number(text, 0, key).to_bits();
    assert_eq!(number("fraud_probability"), p.fraud_probability.to_bits());
    assert_eq!(number("threshold"), model.threshold().to_bits());
    assert_eq!(
        number("base_value"),
        expected.explanation.base_value.to_bits()
    );
    let at = text.find("\"contributions\":").expect("contributions");
    let contributions: Vec<f64> = model
        .feature_names()
        .iter()
        .map(|name| json_number(text, at, name))
        .collect();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&contributions),
        bits(&expected.explanation.contributions)
    );
    let sum = json_number(text, 0, "base_value") + contributions.iter().sum::<f64>();
    assert!(
        (sum - p.fraud_probability).abs() <= 1e-9,
        "local accuracy: {sum} vs {}",
        p.fraud_probability
    );
    // Shortest round-trip formatting on both sides: equal text, equal doubles.
    let reasons = serde_json::to_string(&expected.reasons).expect("reasons");
    assert!(text.contains(&format!("\"reasons\":{reasons},")), "{text}");
    contributions
}

#[test]
fn c_example_explains_the_documented_transaction_like_the_engine() {
    let exe = build("examples/c/explain_transaction.c", Link::Static);
    let output = run(command(&exe, &[&fixture().model_path()]));
    let model = &fixture().model;

    let from_json = check_explanation_json(line(&output, "json: "));

    let electronics = model
        .category_code("merchant_category", "Electronics")
        .expect("a category")
        .code;
    let row = [
        250.0,
        14.0,
        f64::from(electronics),
        0.0,
        0.0,
        75.0,
        3.0,
        35.0,
    ];
    let expected = model.explain(&Encoded(&row)).expect("explain");
    let number = |prefix: &str| -> f64 { line(&output, prefix).parse().expect("a number") };
    // Exact: %.17g round-trips a double bit for bit.
    assert_eq!(
        number("base_value: ").to_bits(),
        expected.explanation.base_value.to_bits()
    );
    let mut sum = number("base_value: ");
    for ((name, want), json) in model
        .feature_names()
        .iter()
        .zip(&expected.explanation.contributions)
        .zip(&from_json)
    {
        let got = number(&format!("contribution {name}: "));
        assert_eq!(got.to_bits(), want.to_bits(), "{name}");
        assert_eq!(
            got.to_bits(),
            json.to_bits(),
            "typed and JSON differ: {name}"
        );
        sum += got;
    }
    let probability = number("fraud_probability: ");
    assert_eq!(
        probability.to_bits(),
        expected.prediction.fraud_probability.to_bits()
    );
    assert!((sum - probability).abs() <= 1e-9, "{sum} vs {probability}");
    assert!(output.contains("base_value + contributions = fraud_probability"));
}

/// valgrind, or `None` (with a loud message) when it is not installed.
fn valgrind() -> Option<Command> {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "\n*** SKIPPED: valgrind is not installed, so the C programs were NOT checked \
             for memory errors and leaks. Run fraud-ffi/install-test-deps.sh. ***\n"
        );
        return None;
    }
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect,possible",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--quiet",
    ]);
    Some(cmd)
}

#[test]
fn c_programs_are_clean_under_valgrind() {
    let fixture = fixture();
    let programs = [
        (
            build("examples/c/score_transaction.c", Link::Static),
            vec![fixture.model_path()],
        ),
        (
            build("examples/c/explain_transaction.c", Link::Static),
            vec![fixture.model_path()],
        ),
        (
            build("fraud-ffi/tests/c/bad_calls.c", Link::Static),
            vec![fixture.model_path(), fixture.corrupt_path()],
        ),
    ];
    for (exe, args) in programs {
        let Some(mut cmd) = valgrind() else { return };
        cmd.arg(&exe).args(&args);
        let output = cmd.output().expect("run valgrind");
        assert!(
            output.status.success(),
            "valgrind found errors or leaks in {}: {}",
            exe.display(),
            describe(&output)
        );
    }
}

/// Checks that `tool` runs; a test that needs it fails with a plain message
/// when it does not (fraud-ffi/install-test-deps.sh installs them all).
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not installed, so this test cannot run: run fraud-ffi/install-test-deps.sh"
    );
}

/// The library installed by `scripts/install-c.sh` into a prefix beside the
/// test's files (once per run), from the library this test run built.
fn installed_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = fixture().dir.join("prefix");
        let mut cmd = Command::new("bash");
        cmd.arg(workspace_dir().join("scripts/install-c.sh"))
            .arg(&prefix)
            .env("FRAUD_LIB_DIR", library_dir());
        run(cmd);
        prefix
    })
}

fn pkg_config(args: &[&str]) -> Vec<String> {
    require("pkg-config");
    let mut cmd = Command::new("pkg-config");
    cmd.args(args)
        .arg("fraud_engine")
        .env("PKG_CONFIG_PATH", installed_prefix().join("lib/pkgconfig"));
    run(cmd).split_whitespace().map(str::to_owned).collect()
}

#[test]
fn installed_shared_library_has_a_soname_and_versioned_links() {
    let lib = installed_prefix().join("lib");
    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let real = format!("libfraud_engine.so.{version}");
    let link = |name: &str| {
        std::fs::read_link(lib.join(name))
            .unwrap_or_else(|e| panic!("{name} is not a symlink: {e}"))
    };
    assert_eq!(
        link("libfraud_engine.so"),
        Path::new(&format!("libfraud_engine.so.{major}"))
    );
    assert_eq!(
        link(&format!("libfraud_engine.so.{major}")),
        Path::new(&real)
    );
    let mut readelf = Command::new("readelf");
    readelf.arg("-d").arg(lib.join(&real));
    let dynamic = run(readelf);
    assert!(
        dynamic.contains(&format!("Library soname: [libfraud_engine.so.{major}]")),
        "{dynamic}"
    );
    for file in [
        "include/fraud_engine.h",
        "include/fraud_engine.hpp",
        "lib/libfraud_engine.a",
        "lib/cmake/fraud_engine/fraud_engineConfig.cmake",
        "lib/cmake/fraud_engine/fraud_engineConfigVersion.cmake",
    ] {
        assert!(
            installed_prefix().join(file).is_file(),
            "{file} not installed"
        );
    }
    assert_eq!(pkg_config(&["--modversion"]), [version]);
}

#[test]
fn c_program_builds_against_the_installed_prefix_through_pkg_config() {
    // The README's and docs/c-api.md's line: cc first.c $(pkg-config --cflags --libs fraud_engine)
    let exe = fixture().dir.join("first-pkg-config");
    let mut cc = Command::new("cc");
    cc.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(workspace_dir().join("examples/c/first.c"))
        .args(pkg_config(&["--cflags", "--libs"]))
        .arg("-o")
        .arg(&exe);
    run(cc);
    let mut readelf = Command::new("readelf");
    readelf.arg("-d").arg(&exe);
    let needed = run(readelf);
    assert!(
        needed.contains(&format!(
            "Shared library: [libfraud_engine.so.{}]",
            env!("CARGO_PKG_VERSION_MAJOR")
        )),
        "{needed}"
    );
    let mut program = command(&exe, &[&fixture().model_path()]);
    program.env("LD_LIBRARY_PATH", installed_prefix().join("lib"));
    let output = run(program);
    let got = parse_prediction(output.trim());
    let expected = engine_documented();
    assert_eq!(got.1.to_bits(), expected.1.to_bits(), "{output}");
    assert_eq!(got, expected);
}

#[test]
fn cpp_cmake_project_finds_the_installed_package() {
    require("cmake");
    let project = fixture().dir.join("cmake-project");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::copy(
        workspace_dir().join("examples/cpp/score.cpp"),
        project.join("score.cpp"),
    )
    .expect("copy the example");
    std::fs::write(
        project.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\n\
         project(score CXX)\n\
         find_package(fraud_engine 0.1 REQUIRED)\n\
         add_executable(score score.cpp)\n\
         target_link_libraries(score PRIVATE fraud_engine::fraud_engine)\n",
    )
    .expect("write CMakeLists.txt");
    let build = project.join("build");
    let mut configure = Command::new("cmake");
    configure
        .arg("-S")
        .arg(&project)
        .arg("-B")
        .arg(&build)
        .arg(format!(
            "-DCMAKE_PREFIX_PATH={}",
            installed_prefix().display()
        ))
        .arg("-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror");
    run(configure);
    let mut compile = Command::new("cmake");
    compile.arg("--build").arg(&build);
    run(compile);
    // The installed library's rpath comes from CMake: no LD_LIBRARY_PATH.
    let output = run(command(&build.join("score"), &[&fixture().model_path()]));
    let expected = engine_documented();
    assert_eq!(parse_prediction(line(&output, "json: ")), expected);
    assert_eq!(line(&output, "threads: "), "4000 of 4000 agree");
}

/// `source` compiled by clang with `sanitizers` (and linked statically).
fn sanitized(source: &str, sanitizers: &str) -> PathBuf {
    let cpp = source.ends_with(".cpp");
    let compiler = if cpp { "clang++" } else { "clang" };
    require(compiler);
    let stem = Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("file name");
    let exe = fixture()
        .dir
        .join(format!("{stem}-{}", sanitizers.replace(',', "-")));
    let mut cmd = Command::new(compiler);
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c99" })
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-O1",
            "-fno-omit-frame-pointer",
        ])
        .arg(format!("-fsanitize={sanitizers}"))
        .arg("-fno-sanitize-recover=all")
        .arg("-I")
        .arg(workspace_dir().join("include"))
        .arg(workspace_dir().join(source))
        .arg(library_dir().join("libfraud_engine.a"))
        .args(["-lpthread", "-ldl", "-lm", "-lrt", "-lutil"])
        .arg("-o")
        .arg(&exe);
    run(cmd);
    exe
}

/// Runs a sanitized program: it must succeed and the sanitizer say nothing.
fn run_sanitized(exe: &Path, args: &[&Path]) {
    let output = command(exe, args)
        .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .env("TSAN_OPTIONS", "halt_on_error=1:second_deadlock_stack=1")
        .output()
        .expect("run the sanitized program");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success()
            && !stderr.contains("Sanitizer")
            && !stderr.contains("runtime error"),
        "{} under the sanitizer: {}",
        exe.display(),
        describe(&output)
    );
}

#[test]
fn c_and_cpp_programs_are_clean_under_asan_and_ubsan() {
    let fixture = fixture();
    let model = fixture.model_path();
    let corrupt = fixture.corrupt_path();
    let programs: [(&str, Vec<&Path>); 5] = [
        ("examples/c/score_transaction.c", vec![&model]),
        ("examples/c/explain_transaction.c", vec![&model]),
        ("examples/c/first.c", vec![&model]),
        ("fraud-ffi/tests/c/bad_calls.c", vec![&model, &corrupt]),
        ("examples/cpp/score.cpp", vec![&model]),
    ];
    for (source, args) in programs {
        run_sanitized(&sanitized(source, "address,undefined"), &args);
    }
}

#[test]
fn threaded_cpp_example_is_clean_under_tsan() {
    let exe = sanitized("examples/cpp/score.cpp", "thread");
    run_sanitized(&exe, &[&fixture().model_path()]);
}

#[test]
fn the_documented_first_program_is_the_example_file() {
    let docs = std::fs::read_to_string(workspace_dir().join("docs/c-api.md")).expect("docs");
    let example =
        std::fs::read_to_string(workspace_dir().join("examples/c/first.c")).expect("example");
    let body = &example[example.find("#include <stdio.h>").expect("includes")..];
    assert!(
        docs.contains(&format!("```c\n{body}```")),
        "docs/c-api.md's first program differs from examples/c/first.c"
    );
    let readme = std::fs::read_to_string(workspace_dir().join("README.md")).expect("README");
    assert!(readme.contains("examples/c/first.c $(pkg-config --cflags --libs fraud_engine)"));
}
