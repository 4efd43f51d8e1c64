//! Consumer groups: created on each stream when missing (`XGROUP CREATE …
//! MKSTREAM`), and told apart from errors that waiting may fix.

use std::sync::Arc;
use std::time::Duration;

use redis::RedisError;

use crate::config::StartPosition;
use crate::connection::{Connection, bounded, has_code};

/// Redis error codes that waiting may fix; any other server error while
/// setting up is a fatal misconfiguration.
const PASSING: [&str; 7] = [
    "LOADING",
    "BUSY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MASTERDOWN",
    "READONLY",
    "MOVED",
];

/// Creates `group` on every stream that lacks it, from `start` (`MKSTREAM`).
pub(super) async fn create(
    connection: &mut Connection,
    streams: &[Arc<str>],
    group: &str,
    start: StartPosition,
    limit: Duration,
) -> Result<(), RedisError> {
    for stream in streams {
        let created: Result<(), RedisError> = bounded(
            limit,
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&**stream)
                .arg(group)
                .arg(start.as_id())
                .arg("MKSTREAM")
                .query_async(connection),
        )
        .await;
        match created {
            Ok(()) => tracing::info!(%stream, group, start = %start, "created consumer group"),
            Err(error) if has_code(&error, "BUSYGROUP") => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Whether `error` is a refusal that waiting cannot fix (a key of the wrong
/// type, say), rather than an outage.
pub(super) fn is_fatal(error: &RedisError) -> bool {
    error.code().is_some_and(|code| !PASSING.contains(&code))
}
