//! `xerpium-events`: the typed API of XERPIUM's message catalog.
//!
//! Everything here is generated at build time from `events.yaml` by
//! `xerpium-codegen` (see `build.rs`); the same code is committed under
//! `generated/` for review. Edit the catalog, never the generated code.
//!
//! # Layout
//! - Event types, one struct per catalog event (`UserCreated`, …), each
//!   implementing [`Event`]; shared types and enums (`Money`, `UserRole`, …).
//! - [`Category`], [`EventType`] and [`AnyEvent`]: the catalog as data, and
//!   decoding any event by its wire type and version; [`COMMANDS`] and
//!   [`NOTIFICATION_TARGETS`] list the commands ([`CommandInfo`]) and the
//!   notification targets.
//! - Handling: one trait per category (`UserHandler`, …) run through its
//!   dispatcher (`UserDispatch`), and [`EventHandler`] / [`EventDispatch`]
//!   for every event at once.
//! - Publishing: [`PublishEvents`], a typed method per event on any [`Publish`].
//! - Commands: request/response types, [`CommandClient`] for callers and a
//!   handler trait with its server per target service.
//! - Notifications: [`NotificationType`] and [`SendNotifications`].
//! - [`messaging`]: the runtime (`xerpium-messaging`), re-exported.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/xerpium_events.rs"));
}

pub use generated::*;
pub use xerpium_messaging as messaging;
pub use xerpium_messaging::{
    Command, CommandCaller, CommandError, CommandInfo, DecodeError, DeliveryPolicy, Dispatch, Envelope, Event,
    HandlerError, HandlerResult, Message, Notify, Publish, PublishContext, PublishError, StreamLayout,
};
