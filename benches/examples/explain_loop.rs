//! Explains the documented request repeatedly: a fixed workload for
//! instruction-counting profilers (`valgrind --tool=callgrind`), whose counts
//! do not depend on what else the machine is doing.
//!
//! `cargo run --release -p fraud-benches --example explain_loop -- [ROWS] [REPS]`

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().unwrap_or(0));
    let rows = args.next().filter(|&r| r > 0).unwrap_or(10_000);
    let reps = args.next().filter(|&r| r > 0).unwrap_or(1_000);
    let model = fraud_benches::model(rows);
    let request = fraud_benches::documented_request();
    let mut total = 0.0;
    for _ in 0..reps {
        if let Ok(e) = model.explain(&request) {
            total += e.explanation.contributions.iter().sum::<f64>();
        }
    }
    let leaves: usize = model
        .tree_arrays()
        .iter()
        .map(|t| t.children_left.iter().filter(|&&c| c == -1).count())
        .sum();
    println!(
        "{reps} explanations of a {}-tree model with {leaves} leaves; checksum {total:.6}",
        model.n_trees()
    );
}
