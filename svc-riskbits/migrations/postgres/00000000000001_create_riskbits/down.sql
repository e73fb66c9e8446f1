DROP TABLE IF EXISTS riskbit_risk_names;
DROP TABLE IF EXISTS riskbits;
