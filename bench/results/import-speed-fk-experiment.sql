-- Run against a kept 100k PostgreSQL import database (kinerja-bench import --keep); timings in import-speed-notes.md. Rolls back variants B and C.
\timing on
CREATE TABLE IF NOT EXISTS e_src AS SELECT * FROM employees ORDER BY id;
CREATE TABLE IF NOT EXISTS a_src AS SELECT * FROM assignments ORDER BY id;
-- A: foreign keys as they are
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
INSERT INTO employees SELECT * FROM e_src;
INSERT INTO assignments SELECT * FROM a_src;
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
INSERT INTO employees SELECT * FROM e_src;
INSERT INTO assignments SELECT * FROM a_src;
-- B: without the four foreign keys
BEGIN;
ALTER TABLE employees DROP CONSTRAINT employees_agency_id_fkey;
ALTER TABLE assignments DROP CONSTRAINT assignments_employee_id_fkey, DROP CONSTRAINT assignments_superior_employee_id_fkey, DROP CONSTRAINT assignments_unit_id_fkey;
TRUNCATE employees, assignments CASCADE;
CHECKPOINT;
INSERT INTO employees SELECT * FROM e_src;
INSERT INTO assignments SELECT * FROM a_src;
TRUNCATE employees, assignments CASCADE;
INSERT INTO employees SELECT * FROM e_src;
INSERT INTO assignments SELECT * FROM a_src;
-- C: statement-level checks over the transition table
CREATE FUNCTION chk_emp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM agencies a WHERE a.id = n.agency_id)) THEN
    RAISE EXCEPTION 'agency missing' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE FUNCTION chk_asg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM employees e WHERE e.id = n.employee_id))
     OR EXISTS (SELECT 1 FROM new_rows n WHERE n.superior_employee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM employees e WHERE e.id = n.superior_employee_id))
     OR EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM units u WHERE u.id = n.unit_id)) THEN
    RAISE EXCEPTION 'reference missing' USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER emp_ref AFTER INSERT ON employees REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chk_emp();
CREATE TRIGGER asg_ref AFTER INSERT ON assignments REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION chk_asg();
TRUNCATE employees, assignments CASCADE;
INSERT INTO employees SELECT * FROM e_src;
INSERT INTO assignments SELECT * FROM a_src;
TRUNCATE employees, assignments CASCADE;
INSERT INTO employees SELECT * FROM e_src;
INSERT INTO assignments SELECT * FROM a_src;
ROLLBACK;
