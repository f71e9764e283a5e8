//! The output a task streams back, chunk by numbered chunk.
//!
//! A position is stored once: a node that delivers a chunk again (after a
//! reconnect, not knowing whether the first delivery arrived) changes
//! nothing.

use super::{Registry, Result};
use mosaic_store::entity::node_task_output;
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, Set, TryInsertResult,
};

impl Registry<'_> {
    /// Stores chunk `seq` of a task's output unless that position is already
    /// stored; true when it was new.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn append_output(
        &self,
        task_id: &str,
        seq: i32,
        stream: &str,
        data: &str,
    ) -> Result<bool> {
        let chunk = node_task_output::ActiveModel {
            task_id: Set(task_id.to_owned()),
            seq: Set(seq),
            stream: Set(stream.to_owned()),
            data: Set(data.to_owned()),
        };
        // The primary key is (task, position).
        let stored = node_task_output::Entity::insert(chunk)
            .on_conflict_do_nothing()
            .exec_without_returning(self.db)
            .await?;
        Ok(matches!(stored, TryInsertResult::Inserted(n) if n > 0))
    }

    /// Output chunks after `after_seq`, in order.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn output_after(
        &self,
        task_id: &str,
        after_seq: i32,
    ) -> Result<Vec<(i32, String, String)>> {
        Ok(node_task_output::Entity::find()
            .filter(node_task_output::Column::TaskId.eq(task_id))
            .filter(node_task_output::Column::Seq.gt(after_seq))
            .order_by_asc(node_task_output::Column::Seq)
            .all(self.db)
            .await?
            .into_iter()
            .map(|r| (r.seq, r.stream, r.data))
            .collect())
    }
}
