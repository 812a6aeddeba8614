-- veil demo on embedded DataFusion: run with
--   cargo run -q -p veil-cli -- -f sql/demo.sql
-- data/people.csv is synthetic (scripts/gen_people.py): 500 staff records with
-- names, emails, card numbers and SSNs inside free-text notes.

-- 1. Query a CSV file by path; raw notes next to redact_pii(notes).
SELECT id, note AS raw_note, redact_pii(note) AS redacted_note
FROM 'data/people.csv'
WHERE id <= 8
ORDER BY id;

-- 2. Redaction over a whole column: how many notes carried PII?
SELECT count(*) AS notes,
       sum(CASE WHEN redact_pii(note) <> note THEN 1 ELSE 0 END) AS notes_with_pii
FROM 'data/people.csv';

-- 3. Differentially private queries spend a privacy budget, charged before any noisy value
--    is released. The ledger is a SQLite file (veil.ledger, $VEIL_LEDGER, or
--    ~/.local/share/veil/ledger.sqlite); this demo uses a throwaway one in memory.
SET veil.ledger = ':memory:';
SELECT veil_principal() AS principal, veil_budget_grant(veil_principal(), 10, 0.001) AS epsilon_granted;

--    Exact mean salary next to epsilon-differentially private means (fresh noise each run).
SELECT count(*)                                   AS staff,
       round(avg(salary), 2)                      AS exact_mean,
       round(dp_mean(salary, 0, 200000, 1.0), 2)  AS dp_mean_eps_1,
       round(dp_mean(salary, 0, 200000, 0.1), 2)  AS dp_mean_eps_0_1
FROM 'data/people.csv';

-- 4. Per department: one charge of ε for all groups (they are disjoint). Group keys are
--    released only through DP partition selection (a noisy count over a threshold set by
--    veil.delta), which costs its own ε (here the aggregate's, 1.0) and δ.
SET veil.delta = 0.000001;
SELECT dept,
       count(*)                                  AS staff,
       round(avg(salary), 2)                     AS exact_mean,
       round(dp_mean(salary, 0, 200000, 1.0), 2) AS dp_mean_eps_1
FROM 'data/people.csv'
GROUP BY dept
ORDER BY dept;

-- 5. Per-entity strategies: mask cards, fake (but never valid) SSNs, keep people's names
--    as realistic pseudonyms. substitute is keyed, so set a key first.
SET veil.hash_key = 'demo-key-change-me-0123456789';
SELECT id,
       redact_pii(note, '{"per_entity":{"CREDIT_CARD":{"strategy":"mask","keep_last":4},
                                        "US_SSN":{"strategy":"substitute"},
                                        "PERSON":{"strategy":"substitute"}}}') AS rewritten
FROM 'data/people.csv'
WHERE id <= 4
ORDER BY id;

-- 6. What kinds of PII does the column hold?
SELECT pii_entity_summary(note) AS entities FROM 'data/people.csv';

-- 7. How identifiable are people by department alone, and by department and salary band?
SELECT k_anonymity(dept) AS k_dept,
       k_anonymity(dept, CAST(salary / 50000 AS BIGINT)) AS k_dept_salary_band
FROM 'data/people.csv';

-- 8. Epsilon from the session, and how to split a budget of 1.0 over 20 queries.
SET veil.epsilon = 0.5;
SELECT round(dp_mean(salary, 0, 200000), 2) AS dp_mean_eps_0_5 FROM 'data/people.csv';
SELECT * FROM veil_advise_composition(1.0, 20, 0.000001);

-- 9. What the DP queries above spent, and the audit log of every charge attempt.
SELECT principal, epsilon_total, round(epsilon_spent, 2) AS epsilon_spent,
       round(epsilon_remaining, 2) AS epsilon_remaining, queries
FROM veil_budget_status();
SELECT id, accepted, epsilon, mechanisms FROM veil_audit_log() ORDER BY id;
