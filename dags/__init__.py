"""claimflow's Airflow DAGs. Point Airflow's ``dags_folder`` here (``claimflow demo`` does it for you)."""
