//! The writes, each validated before it touches the store.

use crate::error::{NativeError, invalid};
use crate::records::*;
use mosaic_store::entity::{
    insights, mission_tasks, missions, preferences, projects, tasks, team_members, teams, users,
};
use mosaic_store::now;
use mosaic_store::sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Ids chosen by people: short, URL- and shell-safe.
fn chosen_id(field: &'static str, id: Option<String>) -> Result<String, NativeError> {
    let Some(id) = id else { return Ok(new_id()) };
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(id)
    } else {
        Err(invalid(field, "use 1–64 letters, digits, `-`, `_` or `.`"))
    }
}

fn required(field: &'static str, value: &str) -> Result<String, NativeError> {
    let value = value.trim();
    if value.is_empty() {
        Err(invalid(field, "must not be empty"))
    } else {
        Ok(value.to_owned())
    }
}

fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

/// Native writes over one connection.
#[derive(Debug, Clone, Copy)]
pub struct Native<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Native<'a> {
    /// Writes on `db`.
    pub fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    async fn user_exists(&self, id: &str) -> Result<(), NativeError> {
        match users::Entity::find_by_id(id.to_owned())
            .one(self.db)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(NativeError::NotFound {
                kind: "user",
                id: id.to_owned(),
            }),
        }
    }

    /// Creates a user.
    pub async fn create_user(&self, new: NewUser) -> Result<User, NativeError> {
        let id = chosen_id("id", new.id)?;
        let name = required("name", &new.name)?;
        let email = required("email", &new.email)?;
        if !email.contains('@') {
            return Err(invalid("email", "is not an email address"));
        }
        if users::Entity::find_by_id(id.clone())
            .one(self.db)
            .await?
            .is_some()
        {
            return Err(NativeError::Duplicate {
                kind: "user",
                value: id,
            });
        }
        let taken = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(self.db)
            .await?;
        if taken.is_some() {
            return Err(NativeError::Duplicate {
                kind: "email",
                value: email,
            });
        }
        let t = now();
        users::ActiveModel {
            id: Set(id.clone()),
            name: Set(name.clone()),
            email: Set(email.clone()),
            email_verified: Set(false),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(User { id, name, email })
    }

    /// Every user, by id.
    pub async fn list_users(&self) -> Result<Vec<User>, NativeError> {
        Ok(users::Entity::find()
            .order_by_asc(users::Column::Id)
            .all(self.db)
            .await?
            .into_iter()
            .map(|u| User {
                id: u.id,
                name: u.name,
                email: u.email,
            })
            .collect())
    }

    /// Creates a team; its owner becomes a member.
    pub async fn create_team(&self, new: NewTeam) -> Result<Team, NativeError> {
        let id = chosen_id("id", new.id)?;
        let name = required("name", &new.name)?;
        let slug = match new.slug {
            Some(s) => required("slug", &s)?,
            None => slugify(&name),
        };
        if slug.is_empty() {
            return Err(invalid(
                "slug",
                "name has no letters or digits; give a slug",
            ));
        }
        self.user_exists(&new.owner_id).await?;
        let taken = teams::Entity::find()
            .filter(teams::Column::Slug.eq(slug.as_str()))
            .one(self.db)
            .await?;
        if taken.is_some()
            || teams::Entity::find_by_id(id.clone())
                .one(self.db)
                .await?
                .is_some()
        {
            return Err(NativeError::Duplicate {
                kind: "team",
                value: slug,
            });
        }
        let t = now();
        teams::ActiveModel {
            id: Set(id.clone()),
            name: Set(name.clone()),
            slug: Set(slug.clone()),
            owner_id: Set(new.owner_id.clone()),
            manager_id: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        self.add_member(&id, &new.owner_id, "owner").await?;
        Ok(Team {
            id,
            name,
            slug,
            owner_id: new.owner_id,
        })
    }

    /// Adds `user_id` to `team_id` (idempotent: an existing membership's role is updated).
    pub async fn add_member(
        &self,
        team_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<Membership, NativeError> {
        let role = required("role", role)?;
        if teams::Entity::find_by_id(team_id.to_owned())
            .one(self.db)
            .await?
            .is_none()
        {
            return Err(NativeError::NotFound {
                kind: "team",
                id: team_id.to_owned(),
            });
        }
        self.user_exists(user_id).await?;
        let existing = team_members::Entity::find_by_id((team_id.to_owned(), user_id.to_owned()))
            .one(self.db)
            .await?;
        match existing {
            Some(m) => {
                let mut active: team_members::ActiveModel = m.into();
                active.role = Set(role.clone());
                active.update(self.db).await?;
            }
            None => {
                team_members::ActiveModel {
                    team_id: Set(team_id.to_owned()),
                    user_id: Set(user_id.to_owned()),
                    role: Set(role.clone()),
                    created_at: Set(now()),
                }
                .insert(self.db)
                .await?;
            }
        }
        Ok(Membership {
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
            role,
        })
    }

    /// Removes a membership; removing one that does not exist is not an error.
    pub async fn remove_member(&self, team_id: &str, user_id: &str) -> Result<(), NativeError> {
        team_members::Entity::delete_by_id((team_id.to_owned(), user_id.to_owned()))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Whether `user_id` is a member of `team_id`.
    pub async fn is_member(&self, team_id: &str, user_id: &str) -> Result<bool, NativeError> {
        Ok(
            team_members::Entity::find_by_id((team_id.to_owned(), user_id.to_owned()))
                .one(self.db)
                .await?
                .is_some(),
        )
    }

    /// Creates a project. A team project's creator must be a member of the team.
    pub async fn create_project(&self, new: NewProject) -> Result<Project, NativeError> {
        let name = required("name", &new.name)?;
        self.user_exists(&new.created_by).await?;
        let (owner_type, owner_id, team_id) = match &new.owner {
            Owner::User(user) => {
                if user != &new.created_by {
                    return Err(NativeError::Forbidden(
                        "a personal project belongs to the user creating it".into(),
                    ));
                }
                ("user", Some(user.clone()), None)
            }
            Owner::Team(team) => {
                if !self.is_member(team, &new.created_by).await? {
                    return Err(NativeError::Forbidden(format!(
                        "user `{}` is not a member of team `{team}`",
                        new.created_by
                    )));
                }
                ("team", Some(new.created_by.clone()), Some(team.clone()))
            }
        };
        let id = new_id();
        let t = now();
        projects::ActiveModel {
            id: Set(id.clone()),
            name: Set(name.clone()),
            owner_type: Set(owner_type.to_owned()),
            owner_id: Set(owner_id),
            team_id: Set(team_id),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(Project {
            id,
            name,
            owner: new.owner,
        })
    }

    /// Whether `user_id` may write into `project_id`: owner of a personal
    /// project or member of the owning team.
    async fn check_project(&self, user_id: &str, project_id: &str) -> Result<(), NativeError> {
        let project = projects::Entity::find_by_id(project_id.to_owned())
            .one(self.db)
            .await?
            .ok_or_else(|| NativeError::NotFound {
                kind: "project",
                id: project_id.to_owned(),
            })?;
        let allowed = match (project.owner_type.as_str(), &project.team_id) {
            ("team", Some(team)) => self.is_member(team, user_id).await?,
            _ => project.owner_id.as_deref() == Some(user_id),
        };
        if allowed {
            Ok(())
        } else {
            Err(NativeError::Forbidden(format!(
                "user `{user_id}` may not write to project `{project_id}`"
            )))
        }
    }

    /// Creates a mission in a project the user may write to.
    pub async fn create_mission(
        &self,
        user_id: &str,
        new: NewMission,
    ) -> Result<String, NativeError> {
        let name = required("name", &new.name)?;
        self.check_project(user_id, &new.project_id).await?;
        let id = new_id();
        let t = now();
        missions::ActiveModel {
            id: Set(id.clone()),
            name: Set(name),
            project_id: Set(new.project_id),
            user_id: Set(Some(user_id.to_owned())),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    async fn mission_project(&self, mission_id: &str) -> Result<String, NativeError> {
        missions::Entity::find_by_id(mission_id.to_owned())
            .one(self.db)
            .await?
            .map(|m| m.project_id)
            .ok_or_else(|| NativeError::NotFound {
                kind: "mission",
                id: mission_id.to_owned(),
            })
    }

    /// Creates a task in a project or mission the user may write to.
    pub async fn create_task(&self, user_id: &str, new: NewTask) -> Result<Task, NativeError> {
        let title = required("title", &new.title)?;
        if new.project_id.is_none() && new.mission_id.is_none() {
            return Err(invalid("project_id", "a task needs a project or a mission"));
        }
        if let Some(project) = &new.project_id {
            self.check_project(user_id, project).await?;
        }
        if let Some(mission) = &new.mission_id {
            let project = self.mission_project(mission).await?;
            self.check_project(user_id, &project).await?;
        }
        let id = new_id();
        let t = now();
        let status = new.status.unwrap_or_else(|| "not-started".to_owned());
        tasks::ActiveModel {
            id: Set(id.clone()),
            title: Set(title.clone()),
            description: Set(new.description),
            status: Set(status.clone()),
            priority: Set(new.priority.unwrap_or_else(|| "medium".to_owned())),
            project_id: Set(new.project_id.clone()),
            mission_id: Set(new.mission_id.clone()),
            assignee: Set(Some(user_id.to_owned())),
            tags: Set(Some(json!(new.tags))),
            due_date: Set(None),
            metadata: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(Task {
            id,
            title,
            status,
            project_id: new.project_id,
            mission_id: new.mission_id,
            created_at: t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }

    /// Writes the user's note on a mission they may write to.
    pub async fn create_note(&self, user_id: &str, new: NewNote) -> Result<String, NativeError> {
        let content = required("content", &new.content)?;
        let project = self.mission_project(&new.mission_id).await?;
        self.check_project(user_id, &project).await?;
        let id = new_id();
        let t = now();
        mission_tasks::ActiveModel {
            id: Set(id.clone()),
            mission_id: Set(new.mission_id),
            task_id: Set(new.task_id),
            user_id: Set(user_id.to_owned()),
            status: Set("in-progress".to_owned()),
            notes: Set(Some(content)),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    /// Records an insight about the user.
    pub async fn create_insight(
        &self,
        user_id: &str,
        new: NewInsight,
    ) -> Result<String, NativeError> {
        let content = required("content", &new.content)?;
        self.user_exists(user_id).await?;
        let id = new_id();
        let t = now();
        insights::ActiveModel {
            id: Set(id.clone()),
            user_id: Set(user_id.to_owned()),
            content: Set(content),
            source: Set("user".to_owned()),
            category: Set(new.category),
            relevance_score: Set(0.0),
            metadata: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }

    /// Sets a preference (replacing the value of an existing key).
    pub async fn set_preference(
        &self,
        user_id: &str,
        new: NewPreference,
    ) -> Result<String, NativeError> {
        let key = required("key", &new.key)?;
        self.user_exists(user_id).await?;
        let existing = preferences::Entity::find()
            .filter(preferences::Column::UserId.eq(user_id))
            .filter(preferences::Column::Key.eq(key.as_str()))
            .one(self.db)
            .await?;
        let t = now();
        if let Some(row) = existing {
            let id = row.id.clone();
            let mut active: preferences::ActiveModel = row.into();
            active.value = Set(new.value);
            active.category = Set(new.category);
            active.updated_at = Set(t);
            active.update(self.db).await?;
            return Ok(id);
        }
        let id = new_id();
        preferences::ActiveModel {
            id: Set(id.clone()),
            user_id: Set(user_id.to_owned()),
            key: Set(key),
            value: Set(new.value),
            category: Set(new.category),
            source: Set("user".to_owned()),
            mutable: Set(true),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(self.db)
        .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_ids() {
        assert_eq!(slugify("Home Lab!"), "home-lab");
        assert_eq!(slugify("--A  b--"), "a-b");
        assert!(chosen_id("id", Some("alice.b-1_x".into())).is_ok());
        assert!(chosen_id("id", Some("a b".into())).is_err());
        assert!(chosen_id("id", Some(String::new())).is_err());
        assert_eq!(chosen_id("id", None).unwrap().len(), 36);
    }
}
