DROP INDEX job_owners_user_idx;
DROP TABLE job_owners;
