# The application image: web (gunicorn), Celery worker and beat, and the one-shot migrate job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# gettext compiles the translations (locale/*.po -> .mo); nothing else is built from source.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin ehealth

# Dependencies first, pinned by the lock, so code changes reuse this layer.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Static files and translations are built into the image. Settings need values at import time
# only; nothing connects to a database here.
RUN export DJANGO_SETTINGS_MODULE=ehealth.settings.production \
        DATABASE_URL=postgres://build@localhost/build \
        SECRET_KEY=build-time-only-not-used-at-runtime \
        ALLOWED_HOSTS=localhost \
    && python manage.py collectstatic --noinput \
    && if [ -d locale ]; then python manage.py compilemessages --ignore=.venv; fi

# The FHIR $export files' volume (docker-compose.yml): a named volume starts with this
# directory's owner, so the app user can write there.
RUN mkdir -p /srv/fhir-export && chown ehealth /srv/fhir-export

USER ehealth
EXPOSE 8000
CMD ["gunicorn", "ehealth.wsgi:application", "--bind=0.0.0.0:8000", "--access-logfile=-"]
