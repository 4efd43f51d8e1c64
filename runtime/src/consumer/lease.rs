//! Leases on one key: a value naming the holder, with an expiry, renewed
//! and released only by that holder (a compare on the value first), so no
//! one ever renews or drops another's lease. The idempotency store and the
//! partition owner both hold leases.

use std::time::Duration;

use redis::RedisError;

use crate::connection::Connection;

/// Renews the lease `ARGV[1]` for `ARGV[2]` ms if it is still held: 1, else 0.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Drops the lease `ARGV[1]` if it is still held.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Renews `holder`'s lease on `key` for `length`; `false` when `holder`
/// no longer holds it (it expired, someone else took it).
pub(super) async fn renew(
    connection: &mut Connection,
    key: &str,
    holder: &str,
    length: Duration,
) -> Result<bool, RedisError> {
    let renewed: i64 = redis::cmd("EVAL")
        .arg(RENEW)
        .arg(1)
        .arg(key)
        .arg(holder)
        .arg(millis(length))
        .query_async(connection)
        .await?;
    Ok(renewed == 1)
}

/// Drops `holder`'s lease on `key`, if it still holds it.
pub(super) async fn release(connection: &mut Connection, key: &str, holder: &str) -> Result<(), RedisError> {
    redis::cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg(key)
        .arg(holder)
        .query_async::<i64>(connection)
        .await
        .map(drop)
}

/// `duration` in whole milliseconds, at least 1 (Redis refuses 0).
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}
