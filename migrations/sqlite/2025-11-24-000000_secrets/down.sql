DROP TABLE secret_audit;
DROP TABLE secret_grants;
DROP TABLE secret_bindings;
DROP TABLE secret_routes;
DROP TABLE secret_values;
DROP TABLE secrets;
