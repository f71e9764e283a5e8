//! The native data a gateway holds: users and teams (who may read what),
//! projects and missions (where work lives), and the rows federation serves —
//! tasks, notes (a user's notes on a mission) and memory (insights and
//! preferences).
//!
//! Every write validates its input and says which field is wrong; references
//! (a project's team, a task's mission) are checked before the insert, so a
//! mistake is a clear [`NativeError`], not a foreign-key failure.
//!
//! ```no_run
//! # async fn demo(db: &mosaic_store::sea_orm::DatabaseConnection) -> Result<(), mosaic_native::NativeError> {
//! use mosaic_native::{Native, NewProject, NewTask, NewUser, Owner};
//!
//! let native = Native::new(db);
//! let alice = native.create_user(NewUser { id: Some("alice".into()), name: "Alice".into(), email: "alice@example.com".into() }).await?;
//! let project = native.create_project(NewProject { name: "Home".into(), owner: Owner::User(alice.id.clone()), created_by: alice.id.clone() }).await?;
//! native.create_task(&alice.id, NewTask { title: "Water the plants".into(), project_id: Some(project.id), ..Default::default() }).await?;
//! # Ok(()) }
//! ```
//!
//! This crate writes rows; it does not decide what a federated peer may read
//! (that is `mosaic-scope` and `mosaic-federation`).

mod error;
mod records;
mod write;

pub use error::NativeError;
pub use records::{
    Membership, NewInsight, NewMission, NewNote, NewPreference, NewProject, NewTask, NewTeam,
    NewUser, Owner, Project, Task, Team, User,
};
pub use write::Native;
