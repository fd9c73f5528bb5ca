use clap::Parser;

fn main() {
    llm_recon::panic_guard::install();
    let cli = llm_recon::cli::Cli::parse();
    std::process::exit(llm_recon::cli::main_with(cli));
}
