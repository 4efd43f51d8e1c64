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
#[command(name = "xerpium-mq", version)]
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
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Replay every dead letter of the group.
        #[arg(long)]
        all: bool,
        /// Leave the dead letters in the dead-letter stream.
        #[arg(long)]
        keep: bool,
    },
    /// Deletes dead letters: the given ones, or all of the group's. Asks first.
    Purge {
        /// The consumer group.
        group: String,
        /// The dead letters' ids (none: all of them).
        ids: Vec<String>,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
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
