fn main() { eprintln!("dtrace: not written yet"); std::process::exit(2) }
