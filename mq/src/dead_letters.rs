//! The dead letters of a consumer group, read, replayed and purged: what
//! `xerpium-mq dlq` and the dashboard both do, with the same semantics.
//!
//! A dead letter is the original entry's fields followed by the `dlq…`
//! fields (see `xerpium_messaging::consumer::dead_letter`; dead letters
//! written before those became CloudEvents extension names have `dlq.…`
//! fields, read as well). A replay writes the original fields back to
//! `dlqstream` (the partition stream it was read from, for a partitioned
//! category) as a new entry, trimmed like the category's streams. When that
//! stream is no longer one of its category's (the category's `partitions`
//! changed since), no group reads it any more: the entry goes to the stream
//! its subject goes to now instead. The new entry ends with:
//!
//! | field | value |
//! |---|---|
//! | `replayfrom` | the dead-letter stream |
//! | `replayid` | the dead letter's id there |
//! | `replayentryid` | the entry's id in its stream before it was dead-lettered |
//! | `replayreason` | why it had been dead-lettered |
//! | `replaytime` | when it was replayed, RFC 3339 UTC |

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use xerpium_events::Category;
use xerpium_messaging::Keys;
use xerpium_messaging::consumer::dead_letter::field as dlq;

use crate::entry::Entry;
use crate::error::Error;
use crate::session::Session;

/// The fields a replay adds (CloudEvents extension attributes: lowercase
/// letters and digits; before, `replay.from`, `replay.id`, …).
pub mod field {
    /// The dead-letter stream the entry was replayed from.
    pub const FROM: &str = "replayfrom";
    /// The dead letter's id in that stream.
    pub const ID: &str = "replayid";
    /// The entry's id before it was dead-lettered.
    pub const ENTRY_ID: &str = "replayentryid";
    /// Why it had been dead-lettered.
    pub const REASON: &str = "replayreason";
    /// When it was replayed.
    pub const TIME: &str = "replaytime";

    /// Every field a replay adds.
    pub const ALL: [&str; 5] = [FROM, ID, ENTRY_ID, REASON, TIME];
}

/// Dead letters read per round trip when all of a group's are wanted.
const PAGE: usize = 500;

/// Whether `name` is one of the fields the runtime or a replay added (as
/// named now, or before: `dlq.…`, `replay.…`).
pub fn is_added(name: &str) -> bool {
    dlq::ALL.iter().any(|(now, before)| name == *now || name == *before)
        || field::ALL.contains(&name)
        || name.starts_with("replay.")
}

/// The field `name` of a dead letter, under its name before the rename
/// when the dead letter is older.
pub fn added<'l>(letter: &'l Entry, name: &str) -> Option<&'l str> {
    letter
        .get(name)
        .or_else(|| dlq::legacy(name).and_then(|before| letter.get(before)))
}

/// Whether `letter` was dead-lettered for `reason` (any, when `None`).
pub fn is_of(letter: &Entry, reason: Option<&str>) -> bool {
    reason.is_none_or(|reason| added(letter, dlq::REASON) == Some(reason))
}

/// The original entry's fields of a dead letter.
pub fn original(letter: &Entry) -> impl Iterator<Item = (&str, &str)> {
    letter.fields().filter(|(name, _)| !is_added(name))
}

/// Which dead letters of a group an operator means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These, by id.
    Ids(Vec<String>),
    /// Every one whose reason (`dlqreason`) is this, e.g. `poison`.
    Reason(String),
    /// Every one.
    All,
}

/// Where a dead letter went back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// The dead letter's id.
    pub id: String,
    /// The stream it was written to.
    pub stream: String,
    /// Its new entry's id there.
    pub entry_id: String,
    /// The stream it had come from, when that is not where it went: its
    /// category's partitions changed since.
    pub moved_from: Option<String>,
}

/// What one replay did: what went back, what could not (with why), and
/// the failure that stopped it, if one did (the dead letters after it were
/// not tried).
#[derive(Debug, Default)]
pub struct ReplayOutcome {
    /// The dead letters put back.
    pub replayed: Vec<Replayed>,
    /// The dead letters that cannot be replayed, each with why not.
    pub refused: Vec<(String, String)>,
    /// What stopped the replay (Redis failed), if anything did.
    pub failed: Option<Error>,
}

/// The dead letters of one consumer group.
pub struct DeadLetters<'s> {
    session: &'s Session,
    stream: String,
}

impl<'s> DeadLetters<'s> {
    /// The dead letters of `group`.
    pub fn of(session: &'s Session, group: &str) -> Self {
        DeadLetters {
            stream: session.keys.dead_letters(group),
            session,
        }
    }

    /// The group's dead-letter stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// How many there are.
    pub async fn count(&self) -> Result<u64, Error> {
        let mut redis = self.session.redis.clone();
        self.session
            .run(
                "counting dead letters",
                redis::cmd("XLEN").arg(&self.stream).query_async(&mut redis),
            )
            .await
    }

    /// Up to `count` of them, oldest first, from `start` (an id, `(id` for
    /// after it, or `-`).
    pub async fn page(&self, start: &str, count: usize) -> Result<Vec<Entry>, Error> {
        let read = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .to_owned();
        self.session.entries("reading dead letters", &read).await
    }

    /// The dead letter `id`; [`Error::NoSuchDeadLetter`] when there is none
    /// (also when `id` is no entry id at all).
    pub async fn one(&self, id: &str) -> Result<Entry, Error> {
        let not_found = || Error::NoSuchDeadLetter {
            stream: self.stream.clone(),
            id: id.to_owned(),
        };
        // Redis refuses an id that is no id at all: that is "not found" too.
        if !is_entry_id(id) {
            return Err(not_found());
        }
        let read = redis::cmd("XRANGE").arg(&self.stream).arg(id).arg(id).to_owned();
        let letters = self.session.entries("reading a dead letter", &read).await?;
        letters.into_iter().find(|letter| letter.id == id).ok_or_else(not_found)
    }

    /// The dead letters `selection` names, oldest first; an id that is not
    /// there is [`Error::NoSuchDeadLetter`].
    pub async fn select(&self, selection: &Selection) -> Result<Vec<Entry>, Error> {
        let reason = match selection {
            Selection::Ids(ids) => {
                let mut letters: Vec<Entry> = Vec::with_capacity(ids.len());
                for id in ids {
                    // Named twice is meant once.
                    if !letters.iter().any(|letter| letter.id == *id) {
                        letters.push(self.one(id).await?);
                    }
                }
                return Ok(letters);
            }
            Selection::Reason(reason) => Some(reason.as_str()),
            Selection::All => None,
        };
        self.scan(reason, usize::MAX).await
    }

    /// The oldest `limit` dead letters whose reason is `reason` (any, when
    /// `None`), reading no further than needed.
    pub async fn first(&self, reason: Option<&str>, limit: usize) -> Result<Vec<Entry>, Error> {
        self.scan(reason, limit).await
    }

    async fn scan(&self, reason: Option<&str>, limit: usize) -> Result<Vec<Entry>, Error> {
        let mut letters = Vec::new();
        let mut after = "-".to_owned();
        while letters.len() < limit {
            // Unfiltered, a page needs no more than what is still wanted.
            let size = if reason.is_none() {
                PAGE.min(limit - letters.len())
            } else {
                PAGE
            };
            let page = self.page(&after, size).await?;
            let Some(last) = page.last() else { break };
            after = format!("({}", last.id);
            letters.extend(page.into_iter().filter(|letter| is_of(letter, reason)));
        }
        letters.truncate(limit);
        Ok(letters)
    }

    /// Puts `letters` back on their streams, each written before it is
    /// removed from the dead-letter stream (unless `keep`): a failure in
    /// between leaves it in both, to be replayed again, never in neither.
    /// Stops at the first failure of Redis, saying what was done before.
    pub async fn replay(&self, letters: &[Entry], keep: bool) -> ReplayOutcome {
        let mut outcome = ReplayOutcome::default();
        for letter in letters {
            match self.replay_one(letter, keep).await {
                Ok(Ok(replayed)) => outcome.replayed.push(replayed),
                Ok(Err(why)) => outcome.refused.push((letter.id.clone(), why)),
                Err(error) => {
                    outcome.failed = Some(error);
                    break;
                }
            }
        }
        outcome
    }

    /// Replays one dead letter: `Ok(Err(why not))` when it cannot be.
    async fn replay_one(&self, letter: &Entry, keep: bool) -> Result<Result<Replayed, String>, Error> {
        let Some(from) = added(letter, dlq::STREAM) else {
            return Ok(Err(format!("it has no `{}` field", dlq::STREAM)));
        };
        let session = self.session;
        if !from.starts_with(&format!("{}:", session.keys.namespace())) {
            return Ok(Err(format!("its stream `{from}` is outside this namespace")));
        }
        if original(letter).next().is_none() {
            return Ok(Err(
                "its entry was trimmed from the stream before it could be read: there is nothing to put back".into(),
            ));
        }
        let (target, max_len) = destination(&session.keys, letter, from)
            .unwrap_or_else(|| (from.to_owned(), session.config.default_policy().max_len));
        let mut add = redis::cmd("XADD");
        add.arg(&target).arg("MAXLEN").arg("~").arg(max_len).arg("*");
        for (name, value) in original(letter) {
            add.arg(name).arg(value);
        }
        add.arg(field::FROM)
            .arg(&self.stream)
            .arg(field::ID)
            .arg(&letter.id)
            .arg(field::ENTRY_ID)
            .arg(added(letter, dlq::ENTRY_ID).unwrap_or_default())
            .arg(field::REASON)
            .arg(added(letter, dlq::REASON).unwrap_or_default())
            .arg(field::TIME)
            .arg(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
        let mut redis = session.redis.clone();
        let entry_id: String = session
            .run("replaying a dead letter", add.query_async(&mut redis))
            .await?;
        if !keep {
            let delete = redis::cmd("XDEL").arg(&self.stream).arg(&letter.id).to_owned();
            let _: u64 = session
                .run("removing a replayed dead letter", delete.query_async(&mut redis))
                .await?;
        }
        Ok(Ok(Replayed {
            id: letter.id.clone(),
            moved_from: (from != target).then(|| from.to_owned()),
            stream: target,
            entry_id,
        }))
    }

    /// Deletes the dead letters `selection` names and says how many went.
    /// [`Selection::All`] deletes only those there are when it looks (the
    /// newest then and all before it): letters arriving meanwhile stay.
    pub async fn purge(&self, selection: &Selection) -> Result<u64, Error> {
        let mut redis = self.session.redis.clone();
        let ids = match selection {
            Selection::Ids(ids) => {
                if let Some(bad) = ids.iter().find(|id| !is_entry_id(id)) {
                    return Err(Error::NoSuchDeadLetter {
                        stream: self.stream.clone(),
                        id: bad.clone(),
                    });
                }
                ids.clone()
            }
            Selection::Reason(_) => self
                .select(selection)
                .await?
                .into_iter()
                .map(|letter| letter.id)
                .collect(),
            Selection::All => {
                let Some(newest) = self.session.newest(&self.stream).await? else {
                    return Ok(0);
                };
                let trim = redis::cmd("XTRIM")
                    .arg(&self.stream)
                    .arg("MINID")
                    .arg(next_id(&newest.id))
                    .to_owned();
                return self
                    .session
                    .run("deleting dead letters", trim.query_async(&mut redis))
                    .await;
            }
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let delete = redis::cmd("XDEL").arg(&self.stream).arg(&ids).to_owned();
        self.session
            .run("deleting dead letters", delete.query_async(&mut redis))
            .await
    }
}

/// Where a dead letter that came from stream `from` goes back to, and the
/// cap to trim that stream by (its category's), when `from` is or was a
/// stream of the letter's category: that category is the first part of its
/// wire type (`user.deleted`), known even for a type this build does not
/// know. `None` for any other stream.
fn destination(keys: &Keys, letter: &Entry, from: &str) -> Option<(String, u64)> {
    let (category, _) = letter.get("type")?.split_once('.')?;
    let category: Category = category.parse().ok()?;
    let target = home(keys, category, from, letter.get("subject")?)?;
    Some((target, category.layout().max_len))
}

/// The stream an entry of `category` with subject `subject` that came from
/// stream `from` goes back to: `from` while the category has it; else (its
/// `partitions` changed since, and no group reads `from` any more) the
/// stream the runtime publishes `subject` to now. `None` when `from` is no
/// stream of the category, now or before.
fn home(keys: &Keys, category: Category, from: &str, subject: &str) -> Option<String> {
    let (name, layout) = (category.as_str(), category.layout());
    let single = keys.events(name);
    let was_ours = from == single
        || from
            .strip_prefix(&single)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|partition| partition.parse::<u32>().is_ok());
    if !was_ours {
        return None;
    }
    if keys.event_streams(name, &layout).iter().any(|stream| stream == from) {
        Some(from.to_owned())
    } else {
        Some(keys.event_stream(name, &layout, subject))
    }
}

/// Whether `id` reads as a stream entry id: `<ms>` or `<ms>-<seq>`.
pub fn is_entry_id(id: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match id.split_once('-') {
        Some((ms, seq)) => digits(ms) && digits(seq),
        None => digits(id),
    }
}

/// The smallest entry id after `id` (`<ms>-<seq + 1>`).
fn next_id(id: &str) -> String {
    match id.split_once('-').map(|(ms, seq)| (ms, seq.parse::<u64>())) {
        Some((ms, Ok(seq))) if seq < u64::MAX => format!("{ms}-{}", seq + 1),
        Some((ms, _)) => format!("{}-0", ms.parse::<u64>().unwrap_or(0).saturating_add(1)),
        None => format!("{id}-1"),
    }
}

/// One dead letter's summary for machines: type, reason, attempts, where
/// it came from, the error and when.
pub fn summary_json(letter: &Entry) -> Value {
    let get = |name| added(letter, name);
    json!({
        "id": letter.id,
        "type": get("type"),
        "reason": get(dlq::REASON),
        "attempts": get(dlq::ATTEMPTS).and_then(|n| n.parse::<u64>().ok()),
        "stream": get(dlq::STREAM),
        "entry_id": get(dlq::ENTRY_ID),
        "group": get(dlq::GROUP),
        "consumer": get(dlq::CONSUMER),
        "error": get(dlq::ERROR),
        "time": get(dlq::TIME),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_back_to_a_stream_their_category_still_has() {
        let keys = Keys::new("ns");
        let layout = Category::User.layout();
        assert!(layout.is_partitioned(), "the catalog partitions `user`");
        let now = keys.event_stream("user", &layout, "u-1");
        // Its own partition, still one of `user`'s: it stays.
        assert_eq!(home(&keys, Category::User, &now, "u-1"), Some(now.clone()));
        // From before `user` was partitioned, or from a partition it no longer has: where `u-1` goes now.
        assert_eq!(home(&keys, Category::User, "ns:events:user", "u-1"), Some(now.clone()));
        let gone = format!("ns:events:user:{}", layout.partitions);
        assert_eq!(home(&keys, Category::User, &gone, "u-1"), Some(now));
        // Not a stream of `user`: none of its business.
        assert_eq!(home(&keys, Category::User, "ns:events:user_x", "u-1"), None);
        assert_eq!(home(&keys, Category::User, "ns:commands:user-auth", "u-1"), None);
        let security = keys.events("security");
        assert_eq!(home(&keys, Category::Security, &security, "s"), Some(security));
    }

    #[test]
    fn the_next_id_follows() {
        assert_eq!(next_id("1700000000000-4"), "1700000000000-5");
        assert_eq!(next_id(&format!("5-{}", u64::MAX)), "6-0");
        assert_eq!(next_id("7"), "7-1");
        assert!(is_entry_id("1700000000000-4") && is_entry_id("17"));
        assert!(!is_entry_id("1-x") && !is_entry_id("abc") && !is_entry_id("") && !is_entry_id("-1"));
    }
}
