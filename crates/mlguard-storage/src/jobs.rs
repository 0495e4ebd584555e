//! [`JobOwnerStore`] for [`Store`]: who submitted each MLflow job.

use diesel::prelude::*;
use mlguard_domain::{JobOwnerStore, OpaqueId, StoreError, now_ms};

use crate::schema::job_owners;
use crate::store::{Store, db_error, is_unique_violation};

impl JobOwnerStore for Store {
    fn record_job_owner(&self, job_id: &OpaqueId, user_id: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        match diesel::insert_into(job_owners::table)
            .values((
                job_owners::job_id.eq(job_id.as_str()),
                job_owners::user_id.eq(user_id),
                job_owners::created_at.eq(now_ms()),
            ))
            .execute(&mut conn)
        {
            Ok(_) => Ok(()),
            // The first record stands.
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(db_error("record job owner", &e)),
        }
    }

    fn owns_jobs(&self, user_id: i64, job_ids: &[OpaqueId]) -> Result<Vec<bool>, StoreError> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        let mut owned = std::collections::HashSet::new();
        // Bounded batches keep every statement under SQLite's parameter limit.
        for batch in job_ids.chunks(500) {
            let ids: Vec<&str> = batch.iter().map(OpaqueId::as_str).collect();
            let found: Vec<String> = job_owners::table
                .filter(job_owners::user_id.eq(user_id))
                .filter(job_owners::job_id.eq_any(ids))
                .select(job_owners::job_id)
                .load(&mut conn)
                .map_err(|e| db_error("read job owners", &e))?;
            owned.extend(found);
        }
        Ok(job_ids
            .iter()
            .map(|id| owned.contains(id.as_str()))
            .collect())
    }
}
