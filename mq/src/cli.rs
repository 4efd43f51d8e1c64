//! The command line, as `clap` reads it.

use clap::{Parser, Subcommand};
use xerpium_events::Category;

/// The operator's view of XERPIUM messaging in Redis.
///
/// Reads the services' configuration from the environment
/// (XERPIUM_REDIS_URL, XERPIUM_NAMESPACE, …; XERPIUM_SERVICE is not
/// needed). Exit codes: 0 success, 1 error, 2 bad usage, 3 `health` found
/// an instance unhealthy or stale.
#[derive(Debug, Parser)]
#[command(name = "xerpium-mq", version, args_override_self = true)]
pub struct Cli {
    /// Redis to connect to [default: XERPIUM_REDIS_URL, else redis://127.0.0.1:6379].
    #[arg(long, global = true, value_name = "URL")]
    pub redis_url: Option<String>,
    /// Key namespace [default: XERPIUM_NAMESPACE, else xerpium].
    #[arg(long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Print JSON for machines instead of tables (one object per line for `tail`).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every service instance (up, stale or stopped), consumer group and
    /// dead-letter stream; exits with 3 when an instance is unhealthy or stale.
    Health,
    /// Every stream of the namespace: length, groups, memory, first and last entry.
    Streams,
    /// Every consumer group: lag, pending entries, consumers and their idle time.
    Groups,
    /// Prints the events of a category as they arrive, decoded by type; a
    /// partitioned category's from all its streams, in entry-id (time) order.
    Tail {
        /// The category, e.g. `user`.
        #[arg(value_parser = parse_category)]
        category: Category,
        /// Start after this entry id (in every stream of the category): `$`
        /// for new events only, `0` for everything still in the streams.
        #[arg(long, default_value = "$", value_name = "ID")]
        from: String,
        /// Stop after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Dead letters: list, show, replay, purge.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Serves a web dashboard: health and verdict per group, charts of the
    /// last hour, dead letters to inspect, replay and purge, a live tail,
    /// the catalog. Read-only unless XERPIUM_DASHBOARD_TOKEN is set (at
    /// least 16 characters), which operators log in with.
    Dashboard {
        /// Where to listen (loopback by default; port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:7878", value_name = "IP:PORT")]
        addr: std::net::SocketAddr,
        /// How often to sample lag, pending and rates for the charts.
        #[arg(long, default_value = "5s", value_parser = positive_duration, value_name = "DURATION")]
        sample_every: std::time::Duration,
        /// A group that holds entries, or has entries waiting, and settles
        /// nothing for this long is stalled.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
        stall_after: std::time::Duration,
        /// A group with this many entries not yet delivered is lagging.
        #[arg(long, default_value_t = 1000, value_name = "ENTRIES")]
        lag_threshold: u64,
        /// Another name (`host` or `host:port`) the dashboard may be reached
        /// by, e.g. behind a proxy; requests for any other host are refused.
        #[arg(long, value_name = "HOST")]
        allow_host: Vec<String>,
    },
}

/// The `dlq` commands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Without a group, every dead-letter stream and its length; with one,
    /// that group's dead letters, oldest first.
    List {
        /// The consumer group.
        group: Option<String>,
        /// Show at most this many.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
    },
    /// One dead letter in full, its payload decoded.
    Show {
        /// The consumer group.
        group: String,
        /// The dead letter's id (as `dlq list` shows it).
        id: String,
    },
    /// Puts dead letters back on the stream they came from (the one their
    /// subject goes to now if their category's partitions changed since),
    /// as new entries with `replay…` fields (`replayfrom`, …) saying where they come from,
    /// and removes them from the dead-letter stream. Every group reading
    /// that stream gets them again; the message id is kept, so groups with
    /// an idempotency store skip what they handled already.
    Replay {
        /// The consumer group.
        group: String,
        /// The dead letters' ids.
        #[arg(required_unless_present_any = ["all", "reason"], conflicts_with_all = ["all", "reason"])]
        ids: Vec<String>,
        /// Replay every dead letter of the group.
        #[arg(long, conflicts_with = "reason")]
        all: bool,
        /// Replay every dead letter of the group with this reason (e.g. `handler_failed`).
        #[arg(long, value_name = "REASON")]
        reason: Option<String>,
        /// Leave the dead letters in the dead-letter stream.
        #[arg(long)]
        keep: bool,
    },
    /// Deletes dead letters: the given ones, those of a reason, or all of
    /// the group's. Asks first.
    Purge {
        /// The consumer group.
        group: String,
        /// The dead letters' ids (none: all of them).
        #[arg(conflicts_with = "reason")]
        ids: Vec<String>,
        /// Delete every dead letter of the group with this reason.
        #[arg(long, value_name = "REASON")]
        reason: Option<String>,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
}

/// A duration above zero (`5s`, `1m`).
fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0".to_owned()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

/// A catalog category by name; the error lists the known ones.
fn parse_category(name: &str) -> Result<Category, String> {
    name.parse().map_err(|_| {
        let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown category `{name}`; the catalog has: {}", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn categories_come_from_the_catalog() {
        assert_eq!(parse_category("user"), Ok(Category::User));
        let error = parse_category("usr").expect_err("unknown");
        assert!(
            error.starts_with("unknown category `usr`; the catalog has: user, company"),
            "{error}"
        );
    }
}
