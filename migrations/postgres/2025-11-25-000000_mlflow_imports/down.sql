DROP TABLE mlflow_imported_users;
