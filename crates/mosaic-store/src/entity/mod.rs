//! sea-orm entities, one module per table. Column names are the snake_case
//! names of the migrations; `Json` columns hold `serde_json::Value`.

pub mod api_tokens;
pub mod audit_log;
pub mod backlog;
pub mod credentials;
pub mod federation_audit_log;
pub mod federation_enrollment_tokens;
pub mod federation_grants;
pub mod federation_peers;
pub mod insights;
pub mod instance_identity;
pub mod mission_tasks;
pub mod missions;
pub mod node_invites;
pub mod node_session_nodes;
pub mod node_sessions;
pub mod node_task_output;
pub mod node_tasks;
pub mod nodes;
pub mod preferences;
pub mod projects;
pub mod tasks;
pub mod team_members;
pub mod teams;
pub mod users;
