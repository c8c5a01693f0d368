-- Run against a kept 100k PostgreSQL import database (kinerja-bench import --keep); timings in import-speed-notes.md.
\timing on
CREATE TABLE e_src AS SELECT * FROM employees ORDER BY id;
CREATE TABLE a_src AS SELECT * FROM assignments ORDER BY id;
\copy e_src to '/tmp/import-speed/e.bin' with (format binary)
\copy a_src to '/tmp/import-speed/a.bin' with (format binary)
CREATE TABLE arr AS SELECT array_agg(id) id, array_agg(nip) nip, array_agg(name) name, array_agg(name_lower) nl, array_agg(status) st, array_agg(position_type) pt, array_agg(position_name) pn, array_agg(agency_id) ag FROM e_src;
CREATE TABLE arra AS SELECT array_agg(id) id, array_agg(employee_id) e, array_agg(unit_id) u, array_agg(coalesce(superior_employee_id,'')) s, array_agg(position_name) pn, array_agg(position_type) pt, array_agg(kind) k, array_agg(start_date::text) sd, array_agg(coalesce(end_date::text,'')) ed FROM a_src;
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
-- unnest (as the import does)
INSERT INTO employees (id, nip, name, name_lower, status, position_type, position_name, agency_id, version, created_at, updated_at) SELECT u.*, 1, now(), now() FROM arr, unnest(arr.id, arr.nip, arr.name, arr.nl, arr.st, arr.pt, arr.pn, arr.ag) u;
INSERT INTO assignments (id, employee_id, unit_id, superior_employee_id, position_name, position_type, kind, start_date, end_date, version, created_at, updated_at) SELECT u.id, u.e, u.un, NULLIF(u.s,''), u.pn, u.pt, u.k, u.sd::date, NULLIF(u.ed,'')::date, 1, now(), now() FROM arra, unnest(arra.id, arra.e, arra.u, arra.s, arra.pn, arra.pt, arra.k, arra.sd, arra.ed) u(id,e,un,s,pn,pt,k,sd,ed);
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
\copy employees from '/tmp/import-speed/e.bin' with (format binary)
\copy assignments from '/tmp/import-speed/a.bin' with (format binary)
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
INSERT INTO employees (id, nip, name, name_lower, status, position_type, position_name, agency_id, version, created_at, updated_at) SELECT u.*, 1, now(), now() FROM arr, unnest(arr.id, arr.nip, arr.name, arr.nl, arr.st, arr.pt, arr.pn, arr.ag) u;
INSERT INTO assignments (id, employee_id, unit_id, superior_employee_id, position_name, position_type, kind, start_date, end_date, version, created_at, updated_at) SELECT u.id, u.e, u.un, NULLIF(u.s,''), u.pn, u.pt, u.k, u.sd::date, NULLIF(u.ed,'')::date, 1, now(), now() FROM arra, unnest(arra.id, arra.e, arra.u, arra.s, arra.pn, arra.pt, arra.k, arra.sd, arra.ed) u(id,e,un,s,pn,pt,k,sd,ed);
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
\copy employees from '/tmp/import-speed/e.bin' with (format binary)
\copy assignments from '/tmp/import-speed/a.bin' with (format binary)
