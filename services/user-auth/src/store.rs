//! Users and sessions in SQLite: the schema and every statement on it.
//! Functions take a connection inside the caller's transaction.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;
use xerpium_events::{UserProfile, UserRole};
use xerpium_service::db::column::{self, time_text};

/// Users and sessions (the outbox's table is added by the service).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    phone TEXT,
    locale TEXT NOT NULL,
    roles TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_login_at TEXT
);
CREATE INDEX IF NOT EXISTS users_company ON users (company_id);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
";

/// A user account as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The account's id.
    pub id: Uuid,
    /// The company it belongs to.
    pub company_id: Uuid,
    /// Login e-mail, lower case.
    pub email: String,
    /// Full name.
    pub display_name: String,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// Preferred language.
    pub locale: String,
    /// Its roles.
    pub roles: Vec<UserRole>,
    /// The argon2 PHC string of its password.
    pub password_hash: String,
    /// Consecutive failed sign-ins.
    pub failed_attempts: u32,
    /// Whether it is locked.
    pub locked: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: UserRole) -> bool {
        self.roles.contains(&role)
    }

    /// The profile other services (and the user) see.
    pub fn profile(&self) -> UserProfile {
        UserProfile {
            user_id: self.id,
            company_id: self.company_id,
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            phone: self.phone.clone(),
            roles: self.roles.clone(),
            locale: self.locale.clone(),
            locked: self.locked,
            last_login_at: self.last_login_at,
        }
    }
}

const USER_COLUMNS: &str = "id, company_id, email, display_name, phone, locale, roles, password_hash, failed_attempts, \
                            locked, created_at, last_login_at";

fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    let roles: String = row.get(6)?;
    Ok(User {
        id: column::uuid(row, 0)?,
        company_id: column::uuid(row, 1)?,
        email: row.get(2)?,
        display_name: row.get(3)?,
        phone: row.get(4)?,
        locale: row.get(5)?,
        roles: serde_json::from_str(&roles).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(error))
        })?,
        password_hash: row.get(7)?,
        failed_attempts: row.get(8)?,
        locked: row.get(9)?,
        created_at: column::time(row, 10)?,
        last_login_at: column::opt_time(row, 11)?,
    })
}

fn roles_text(roles: &[UserRole]) -> String {
    let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

/// The user with `email` (lower case), if any.
pub fn user_by_email(c: &Connection, email: &str) -> rusqlite::Result<Option<User>> {
    c.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"),
        [email],
        user,
    )
    .optional()
}

/// The user with `id`, if any.
pub fn user_by_id(c: &Connection, id: Uuid) -> rusqlite::Result<Option<User>> {
    c.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        [id.to_string()],
        user,
    )
    .optional()
}

/// Whether `company_id` has any user yet.
pub fn company_has_users(c: &Connection, company_id: Uuid) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE company_id = ?1)",
        [company_id.to_string()],
        |row| row.get(0),
    )
}

/// The admins of `company_id`.
pub fn company_admins(c: &Connection, company_id: Uuid) -> rusqlite::Result<Vec<User>> {
    let mut statement = c.prepare(&format!("SELECT {USER_COLUMNS} FROM users WHERE company_id = ?1"))?;
    let users = statement.query_map([company_id.to_string()], user)?;
    let mut admins = Vec::new();
    for user in users {
        let user = user?;
        if user.has_role(UserRole::Admin) {
            admins.push(user);
        }
    }
    Ok(admins)
}

/// Stores `user`, new or changed (every field but its id, company and
/// creation time can change).
pub fn put_user(c: &Connection, user: &User) -> rusqlite::Result<()> {
    c.execute(
        &format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (id) DO UPDATE SET email = excluded.email, display_name = excluded.display_name,
                 phone = excluded.phone, locale = excluded.locale, roles = excluded.roles,
                 password_hash = excluded.password_hash, failed_attempts = excluded.failed_attempts,
                 locked = excluded.locked, last_login_at = excluded.last_login_at"
        ),
        params![
            user.id.to_string(),
            user.company_id.to_string(),
            user.email,
            user.display_name,
            user.phone,
            user.locale,
            roles_text(&user.roles),
            user.password_hash,
            user.failed_attempts,
            user.locked,
            time_text(&user.created_at),
            user.last_login_at.as_ref().map(time_text),
        ],
    )?;
    Ok(())
}

/// Deletes a user and, with it, their sessions.
pub fn delete_user(c: &Connection, id: Uuid) -> rusqlite::Result<()> {
    c.execute("DELETE FROM users WHERE id = ?1", [id.to_string()])?;
    Ok(())
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session's id.
    pub id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// When it ends unless ended before.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session with its bearer `token`.
pub fn insert_session(c: &Connection, session: &Session, token: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO sessions (id, token, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.id.to_string(),
            token,
            session.user_id.to_string(),
            time_text(&now),
            time_text(&session.expires_at),
        ],
    )?;
    Ok(())
}

/// The open, unexpired session whose token is `token`, with its user.
pub fn session_by_token(c: &Connection, token: &str, now: DateTime<Utc>) -> rusqlite::Result<Option<(Session, User)>> {
    let found = c
        .query_row(
            "SELECT id, user_id, expires_at FROM sessions WHERE token = ?1 AND ended_at IS NULL AND expires_at > ?2",
            params![token, time_text(&now)],
            |row| {
                Ok(Session {
                    id: column::uuid(row, 0)?,
                    user_id: column::uuid(row, 1)?,
                    expires_at: column::time(row, 2)?,
                })
            },
        )
        .optional()?;
    let Some(session) = found else {
        return Ok(None);
    };
    Ok(user_by_id(c, session.user_id)?.map(|user| (session, user)))
}

/// Ends one session; returns whether it was open.
pub fn end_session(c: &Connection, id: Uuid, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let changed = c.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
        params![id.to_string(), time_text(&now)],
    )?;
    Ok(changed > 0)
}

/// Ends every open, unexpired session of `user_id` but `keep`; returns the
/// ids of the sessions ended.
pub fn end_sessions(
    c: &Connection,
    user_id: Uuid,
    keep: Option<Uuid>,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<Uuid>> {
    let mut statement = c.prepare(
        "UPDATE sessions SET ended_at = ?2
         WHERE user_id = ?1 AND ended_at IS NULL AND expires_at > ?2 AND id IS NOT ?3
         RETURNING id",
    )?;
    let ids = statement.query_map(
        params![user_id.to_string(), time_text(&now), keep.map(|id| id.to_string())],
        |row| column::uuid(row, 0),
    )?;
    ids.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("sqlite");
        c.execute_batch(SCHEMA).expect("schema");
        c
    }

    fn alice() -> User {
        User {
            id: Uuid::now_v7(),
            company_id: Uuid::from_u128(1),
            email: "alice@example.com".into(),
            display_name: "Alice".into(),
            phone: None,
            locale: "en".into(),
            roles: vec![UserRole::Admin],
            password_hash: "hash".into(),
            failed_attempts: 0,
            locked: false,
            created_at: xerpium_service::db::column::now(),
            last_login_at: None,
        }
    }

    #[test]
    fn users_round_trip() {
        let c = db();
        let mut user = alice();
        put_user(&c, &user).expect("insert");
        assert_eq!(
            user_by_email(&c, "alice@example.com").expect("read"),
            Some(user.clone())
        );
        assert!(company_has_users(&c, user.company_id).expect("exists"));
        user.locked = true;
        user.failed_attempts = 5;
        user.roles = vec![UserRole::Admin, UserRole::Manager];
        put_user(&c, &user).expect("update");
        assert_eq!(user_by_id(&c, user.id).expect("read"), Some(user.clone()));
        assert_eq!(company_admins(&c, user.company_id).expect("admins").len(), 1);
        delete_user(&c, user.id).expect("delete");
        assert_eq!(user_by_id(&c, user.id).expect("read"), None);
    }

    #[test]
    fn sessions_end_once() {
        let c = db();
        let user = alice();
        put_user(&c, &user).expect("insert");
        let now = xerpium_service::db::column::now();
        let sessions: Vec<Session> = (0..3)
            .map(|_| Session {
                id: Uuid::now_v7(),
                user_id: user.id,
                expires_at: now + chrono::TimeDelta::hours(1),
            })
            .collect();
        for (n, session) in sessions.iter().enumerate() {
            insert_session(&c, session, &format!("token{n}"), now).expect("insert");
        }
        assert_eq!(
            session_by_token(&c, "token0", now).expect("read").map(|(s, _)| s.id),
            Some(sessions[0].id)
        );
        assert!(end_session(&c, sessions[0].id, now).expect("end"));
        assert!(!end_session(&c, sessions[0].id, now).expect("end"));
        assert_eq!(session_by_token(&c, "token0", now).expect("read"), None);
        let ended = end_sessions(&c, user.id, Some(sessions[1].id), now).expect("end");
        assert_eq!(ended, vec![sessions[2].id]);
        let later = now + chrono::TimeDelta::hours(2);
        assert_eq!(session_by_token(&c, "token1", later).expect("read"), None, "expired");
    }
}
