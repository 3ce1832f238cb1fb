"""The server's HTTP routes, one module per group of paths.

    api             /health, /tasks/submitable, /authenticate/refresh_from_api
    models          /models/upload/s3 and the uploaded models' status
    pages           /generate_api_token, the web page for the API token (HTML in pages_html)
    worker_api      /worker/...: remote workers claim jobs, fetch their inputs, post their results
    dependencies    what routes ask FastAPI for: settings, database, the signed-in user...
"""
