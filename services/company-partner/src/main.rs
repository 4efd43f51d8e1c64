//! The `company-partner` binary: settings from the environment
//! (`COMPANY_PARTNER_*`, `XERPIUM_*`), runs until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use xerpium_service::{http, main_loop};

fn main() -> ExitCode {
    main_loop::run(company_partner::SERVICE, |env, shutdown| async move {
        let settings = company_partner::Settings::read(&env)?;
        let config = env.messaging(company_partner::SERVICE)?;
        let listener = http::bind(settings.addr).await?;
        company_partner::run(settings, config, listener, shutdown).await
    })
}
