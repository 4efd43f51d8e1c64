//! `GET /notifications`: the signed-in user's notifications (sent to them,
//! to one of their roles, or to everyone), forwarded to the browser as
//! Server-Sent Events: `event: notification`, `id:` the notification's id,
//! `data:` its JSON (`type`, `title`, `message`, `data`, `id`, `time`,
//! `target`).
//!
//! Notifications are fire and forget: a user who is not listening misses
//! them. A new user is not listening yet when their "Welcome!" is sent, so
//! registration first [holds](Gateway::hold) a subscription for them, and
//! their first stream takes it over, with whatever arrived in between (a
//! held subscription nobody takes is dropped after [`HOLD_FOR`]). The hold
//! lives in this process: with several instances behind a balancer, route a
//! user's requests to one instance (sticky sessions) for this to work.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;
use xerpium_events::messaging::{Config, Error, NotificationStream, Subscriber};
use xerpium_service::{ApiError, Shutdown};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::store::User;

/// How long a held subscription waits for its user's first stream.
pub const HOLD_FOR: Duration = Duration::from_secs(60);

/// Forwards notifications to browsers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    subscriber: Subscriber,
    held: Arc<Mutex<HashMap<Uuid, Held>>>,
    shutdown: Shutdown,
}

#[derive(Debug)]
struct Held {
    stream: NotificationStream,
    since: Instant,
}

impl Gateway {
    /// A gateway for `config`'s Redis and namespace; its streams end at `shutdown`.
    pub fn new(config: &Config, shutdown: Shutdown) -> Result<Gateway, Error> {
        Ok(Gateway {
            subscriber: Subscriber::new(config)?,
            held: Arc::default(),
            shutdown,
        })
    }

    /// Subscribes to `user`'s notifications now and holds the subscription
    /// for their first stream (see the [module docs](self)). Failing to
    /// subscribe (Redis down) is logged: the user then misses what is sent
    /// before they connect.
    pub async fn hold(&self, user: &User) {
        match self.subscribe(user).await {
            Ok(stream) => {
                let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                held.retain(|_, held| held.since.elapsed() < HOLD_FOR);
                held.insert(
                    user.id,
                    Held {
                        stream,
                        since: Instant::now(),
                    },
                );
            }
            Err(error) => tracing::warn!(%error, user_id = %user.id, "cannot hold the notifications of a new user"),
        }
    }

    /// The stream of `user`'s notifications: the held one if there is one,
    /// else a new subscription.
    async fn open(&self, user: &User) -> Result<NotificationStream, Error> {
        let held = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&user.id)
            .filter(|held| held.since.elapsed() < HOLD_FOR);
        match held {
            Some(held) => Ok(held.stream),
            None => self.subscribe(user).await,
        }
    }

    async fn subscribe(&self, user: &User) -> Result<NotificationStream, Error> {
        let user_id = user.id.to_string();
        let roles: Vec<String> = user.roles.iter().map(|role| role.as_str().to_owned()).collect();
        self.subscriber.subscribe_user(&user_id, roles).await
    }
}

/// The signed-in user's notifications as Server-Sent Events, until the
/// browser goes away or the service shuts down; 503 while Redis cannot be
/// reached.
pub async fn stream(
    State(app): State<AppState>,
    me: CurrentUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let gateway = app.gateway;
    let notifications = gateway.open(&me.user).await.map_err(|error| {
        tracing::warn!(%error, "cannot subscribe to notifications");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "notifications are unavailable right now",
        )
    })?;
    let events = notifications
        .filter_map(|message| async move {
            match Event::default()
                .event("notification")
                .id(message.id.to_string())
                .json_data(&message)
            {
                Ok(event) => Some(Ok(event)),
                Err(error) => {
                    tracing::warn!(%error, "cannot encode a notification");
                    None
                }
            }
        })
        .take_until(gateway.shutdown.wait());
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
