//! The output a task streams back, chunk by numbered chunk.

use super::{Registry, Result};
use mosaic_store::entity::node_task_output;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    Set,
};

impl Registry<'_> {
    /// Appends a chunk of output; returns its sequence number.
    ///
    /// # Errors
    /// Storage failure.
    pub async fn append_output(
        &self,
        task_id: &str,
        seq: i32,
        stream: &str,
        data: &str,
    ) -> Result<()> {
        node_task_output::ActiveModel {
            task_id: Set(task_id.to_owned()),
            seq: Set(seq),
            stream: Set(stream.to_owned()),
            data: Set(data.to_owned()),
        }
        .insert(self.db)
        .await?;
        Ok(())
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
