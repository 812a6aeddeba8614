-- DP answers next to the true values on PUMS (SmartNoise's 1,000-row census sample).
-- Run from the repository root, with the shared data next to it:
--   cargo run -q -p veil-cli -- -f sql/pums.sql
-- Bounds come from PUMS.yaml (age 0–100, income 0–500,000); each row is one person.
SET veil.ledger = ':memory:';
SELECT veil_budget_grant(veil_principal(), 5.0, 0.001) AS epsilon_granted;
SET veil.delta = 0.000001;   -- δ of DP partition selection for GROUP BY

CREATE EXTERNAL TABLE pums STORED AS CSV LOCATION '../shared/data/pums/PUMS.csv'
OPTIONS ('format.has_header' 'true');

-- Whole table: ε = 0.5 each.
SELECT count(*)                                  AS true_count,
       dp_count(1, 0.5)                          AS dp_count,
       round(avg(age), 2)                        AS true_mean_age,
       round(dp_mean(age, 0, 100, 0.5), 2)       AS dp_mean_age,
       sum(income)                               AS true_income_sum,
       round(dp_sum(income, 0, 500000, 0.5))     AS dp_income_sum
FROM pums;

-- Per sex: one charge for both groups (disjoint): ε = 1.0 + 1.0, plus partition selection
-- (ε = 1.0, δ = 1e-6) so that only groups with enough people are released.
SELECT sex,
       count(*)                                  AS true_count,
       dp_count(1, 1.0)                          AS dp_count,
       round(avg(income))                        AS true_mean_income,
       round(dp_mean(income, 0, 500000, 1.0))    AS dp_mean_income
FROM pums
GROUP BY sex
ORDER BY sex;

SELECT round(epsilon_spent, 2) AS epsilon_spent, round(epsilon_remaining, 2) AS epsilon_left
FROM veil_budget_status();
