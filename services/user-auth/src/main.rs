//! The `user-auth` binary: settings from the environment (`USER_AUTH_*`,
//! `XERPIUM_*`), runs until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use xerpium_service::{http, main_loop};

fn main() -> ExitCode {
    main_loop::run(user_auth::SERVICE, |env, shutdown| async move {
        let settings = user_auth::Settings::read(&env)?;
        let config = env.messaging(user_auth::SERVICE)?;
        let listener = http::bind(settings.addr).await?;
        user_auth::run(settings, config, listener, shutdown).await
    })
}
