# One image for every flowsite process: web, worker, beat, stream, flower and the local feed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLOWSITE_ENV=production \
    FLOWSITE_VAR_DIR=/app/var

RUN useradd --create-home --uid 10001 flowsite
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY . .
RUN mkdir -p var && chown flowsite:flowsite var
USER flowsite
# The admin's CSS, hashed and compressed for whitenoise (production uses the manifest storage).
# The throwaway key exists only for this step: production settings want one.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput

EXPOSE 8000
# gthread: a flow board's live stream (server-sent events) holds a thread, not a whole worker.
CMD ["gunicorn", "flowsite.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--threads", "16", "--access-logfile", "-"]
