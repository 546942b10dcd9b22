
w{"job_id": "JOB_ID", "project": "test-project", "location": "US", "user_agent": "Flyte/2.12.1 (GPN:Union;development)"}