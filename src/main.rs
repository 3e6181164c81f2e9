//! The provider binary: Terraform starts it, reads the handshake line, and talks gRPC.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--version" || a == "-v") {
        println!("terraform-provider-aft {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    terraform_provider_aft::plugin::timings::start();
    terraform_provider_aft::plugin::logging::init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider-aft: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(terraform_provider_aft::plugin::transport::serve(terraform_provider_aft::provider::AftProvider)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
