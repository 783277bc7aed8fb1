# The review bundle: `make reproduce` runs everything from the raw sheets to checked reports,
# `make test` runs the tests. `make` alone lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# ... but never a report: one runner call writes a notebook's report and every later one, so a
# failure in notebook 04 fails the recipe of report 01, and deleting that report (already
# written, and valid) would make the next run start again at 01. The runner removes what a
# failing notebook wrote itself and keeps the notebook with its error (NN_name.FAILED.ipynb).
.PRECIOUS: reports/%.html
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory

# --- environment -------------------------------------------------------------------------------

# The interpreter that builds .venv: python3.11 if present, else python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.metareview-setup
UV_VERSION := 0.13.9
# uv from PATH if there, else a private copy installed from PyPI into .make/uv.
UV_ON_PATH := $(shell command -v uv 2>/dev/null)
UV := $(if $(UV_ON_PATH),$(UV_ON_PATH),.make/uv/bin/uv)
# Number of reviews run at the same time by `make reports` / `make reproduce`: one more than the
# machine's cores, so that no core waits while a review starts its kernel or writes its pages.
JOBS ?= $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1 )))

# Variables a user passes (NAME, REVIEW, JOBS, LAB_ARGS, PYTHON) reach recipes through the
# environment, quoted ("$$NAME"), and are checked by the program that uses them; never pasted
# into a recipe's text, where `NAME='x;touch /tmp/pwned'` would run the command.
export NAME REVIEW JOBS LAB_ARGS PYTHON ALLOW_OVERRIDES

# --- what there is to run ----------------------------------------------------------------------

# Reviews: the folders of data/raw that have a params/<review>.yaml and a name of letters,
# digits, '-' and '_' (metareview.files.NAME_RULE; Make splits names on spaces, and a name
# becomes part of commands). The runner reports the folders left out.
# (The case patterns open with "(" so that Make's parentheses stay balanced.)
REVIEWS := $(sort $(shell for d in data/raw/*/; do n="$${d:9}"; n="$${n%/}"; \
  case "$$n" in (*[!A-Za-z0-9_-]*|[!A-Za-z0-9]*) ;; \
  (*) if [ -f "params/$$n.yaml" ]; then echo "$$n"; fi;; esac; done))
# One word per folder of data/raw whose name breaks that rule (its name itself may hold spaces,
# so only the count is kept): `make reports` then lets the runner say which and how to mend them.
UNUSABLE := $(shell for d in data/raw/*/; do n="$${d:9}"; n="$${n%/}"; \
  case "$$n" in (*[!A-Za-z0-9_-]*|[!A-Za-z0-9]*) echo x;; esac; done)
# Notebooks: notebooks/NN_name.ipynb, run in the order of NN.
# (NB_FILES, not NOTEBOOKS: `make share NOTEBOOKS=1` is a user's switch)
NB_FILES := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NB_STEMS := $(basename $(notdir $(NB_FILES)))
# The package code the notebooks call: a change reruns every notebook.
SRC := $(sort $(shell find src/metareview -name "*.py" -o -path "*/templates/*" -type f 2>/dev/null))

# PREV_<stem> = the notebook before <stem> (its report is a prerequisite: a notebook reads what
# the previous ones wrote, so an edit upstream reruns everything downstream).
$(foreach pair,$(join $(NB_STEMS),$(addprefix :,$(wordlist 1,$(words $(NB_STEMS)),- $(NB_STEMS)))),\
  $(eval PREV_$(firstword $(subst :, ,$(pair))) := $(filter-out -,$(word 2,$(subst :, ,$(pair))))))

REPORTS := $(foreach r,$(REVIEWS),$(foreach n,$(NB_STEMS),reports/$(r)/$(n).html))

# helpers for the pattern rule below; $(1) is the stem "<review>/<NN_name>"
review_of = $(firstword $(subst /, ,$(1)))
number_of = $(firstword $(subst _, ,$(notdir $(1))))
upstream_of = $(if $(PREV_$(notdir $(1))),reports/$(call review_of,$(1))/$(PREV_$(notdir $(1))).html)
inputs_of = $(wildcard data/raw/$(1)/*) params/$(1).yaml
# written by the runner, newer than the report, when the notebook last ran with `-p` overrides:
# the report is then out of date for a run with params/<review>.yaml
override_stamp_of = $(wildcard reports/$(call review_of,$(1))/.outputs/$(notdir $(1)).overridden)

# --- targets -----------------------------------------------------------------------------------

.PHONY: help setup reproduce reports report-files check record test lab share clean checksums \
        codebook new-review fixtures import-revman export-revman

help: ## list the targets
	@echo "Targets (reviews: $(or $(REVIEWS),none); notebooks: $(words $(NB_STEMS))):"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

setup: $(SETUP_STAMP) ## build .venv from requirements.lock (reruns only when the lock changes)

$(SETUP_STAMP): requirements.lock pyproject.toml
	@test -n "$${PYTHON:-}" || { echo "error: python3.11 (or python3) is needed to build .venv"; exit 1; }
	@if [ ! -x "$(UV)" ]; then \
	  echo "uv not found on PATH: installing uv $(UV_VERSION) from PyPI into .make/uv"; \
	  "$$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .make/uv uv==$(UV_VERSION); \
	fi
	test -x $(PY) || $(UV) venv --python "$$PYTHON" $(VENV)
	$(UV) pip sync --compile-bytecode --python $(PY) requirements.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	$(PY) -m ipykernel install --prefix $(VENV) --name metareview \
	  --display-name "Python (metareview)" >/dev/null
	touch $@

reproduce: setup ## from raw data to checked reports: delete outputs, run everything, check
	mkdir -p data/processed reports
	find data/processed reports -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	$(MAKE) reports
	$(MAKE) check

# The index (and, under `record`, the reports) are made silently (-s): the runner and the index
# print their own lines, and Make's "'reports/index.html' is up to date", where the runner has
# already rebuilt the index, would read as if it had not.
reports: $(SETUP_STAMP) ## run what changed (reviews in parallel) and rebuild the index page
	@[[ "$$JOBS" =~ ^[1-9][0-9]*$$ ]] || { echo "error: JOBS must be a whole number >= 1"; exit 2; }; \
	status=0; \
	$(if $(UNUSABLE),$(PY) -m metareview.run.pipeline folders || true;) \
	$(MAKE) --jobs="$$JOBS" --keep-going report-files || status=$$?; \
	$(MAKE) -s reports/index.html || status=$$?; \
	if [ $$status -ne 0 ]; then \
	  echo; echo "Some reviews did not run to the end (the others did):"; \
	  $(PY) -m metareview.run.pipeline failures || true; \
	fi; \
	exit $$status

# The package's bytecode, compiled once after each change of its code: a shell that sets
# PYTHONDONTWRITEBYTECODE (or a read-only cache) would otherwise have every kernel of every
# review compile each module again. (The stack's bytecode is written by `uv pip sync
# --compile-bytecode`.) Order-only for the reports: compiling is no reason to rerun a notebook.
BYTECODE_STAMP := .make/bytecode
$(BYTECODE_STAMP): $(SRC) $(SETUP_STAMP)
	@mkdir -p $(@D)
	@$(PY) -c 'import compileall, pathlib, sys, metareview; sys.exit(not compileall.compile_dir(\
	  pathlib.Path(metareview.__file__).parent, quiet=1))' >/dev/null
	@touch $@

# Every report of every review (`reports` runs these with --keep-going, so that one failing
# review does not stop the others).
report-files: $(REPORTS)

# One report per review x notebook. The recipe runs the notebook and every later one in one
# process; the later reports then see fresh prerequisites and skip (the `find` guard), so a
# change costs one runner start per review, not one per notebook.
.SECONDEXPANSION:
reports/%.html: notebooks/$$(notdir $$*).ipynb $$(call inputs_of,$$(call review_of,$$*)) \
                $$(call upstream_of,$$*) $$(call override_stamp_of,$$*) $(SRC) $(SETUP_STAMP) \
                | $(BYTECODE_STAMP)
	@if [ -e $@ ] && [ -z "$$(find $^ -newer $@ -print -quit)" ]; then exit 0; fi; \
	$(PY) -m metareview.run.pipeline run --review '$(call review_of,$*)' --from '$(call number_of,$*)'

# The index shows what exists, failed reviews included (it marks them). A review removed (its
# folder deleted) makes no file newer, so the list of reviews is a prerequisite too, kept in
# .make/reviews.txt and rewritten (by Make's own file function, no shell) only when it changes,
# and only by the targets that build the index (`make help` or a refused command writes nothing).
REVIEW_LIST := .make/reviews.txt
ifneq ($(filter reports record share reproduce reports/index.html,$(MAKECMDGOALS)),)
ifneq ($(strip $(file <$(REVIEW_LIST))),$(strip $(REVIEWS)))
$(shell mkdir -p .make)
$(file >$(REVIEW_LIST),$(REVIEWS))
endif
endif
reports/index.html: $(wildcard $(REPORTS)) $(wildcard .runs/*.failed) $(wildcard results/*.json) \
                    $(SRC) $(SETUP_STAMP) $(REVIEW_LIST)
	$(PY) -m metareview.run.record index

# (when another goal reaches the index before the list was written)
$(REVIEW_LIST):
	@mkdir -p $(@D) && printf '%s\n' "$(REVIEWS)" > $@

check: setup ## fail unless the run matches results/*.json: one line per review not run or run with overrides [VERBOSE=1]
	$(PY) -m metareview.run.record check $(if $(filter 1 yes true,$(VERBOSE)),--verbose)

# The reports of REVIEW (all reviews when it is empty): a name that is not a review matches
# nothing here, and `record write` names it.
RECORD_REPORTS := $(if $(REVIEW),$(filter reports/$(REVIEW)/%,$(REPORTS)),$(REPORTS))

record: setup ## bring the reports up to date, then rewrite results/<review>.json of every complete review [REVIEW=x] [ALLOW_OVERRIDES=1]
	@# A failing review is not recorded and does not stop the others. ALLOW_OVERRIDES=1
	@# records the run as it is, overrides included (named in the record), without rerunning.
	@status=0; args=(); \
	if [ -n "$${REVIEW:-}" ]; then args+=(--review "$$REVIEW"); fi; \
	if [[ "$${ALLOW_OVERRIDES:-}" =~ ^(1|yes|true)$$ ]]; then args+=(--allow-overrides); \
	else \
	  [[ "$$JOBS" =~ ^[1-9][0-9]*$$ ]] || { echo "error: JOBS must be a whole number >= 1"; exit 2; }; \
	  $(MAKE) -s --jobs="$$JOBS" --keep-going $(RECORD_REPORTS) || status=$$?; \
	  $(MAKE) -s reports/index.html || status=$$?; \
	fi; \
	$(PY) -m metareview.run.record write "$${args[@]}" || status=$$?; \
	exit $$status

checksums: setup ## accept an intended raw-data edit: valid sheets, changed reviews only [REVIEW=x]
	@if [ -n "$${REVIEW:-}" ]; then $(PY) -m metareview.review.checksums accept --review "$$REVIEW"; \
	else $(PY) -m metareview.review.checksums accept $(addprefix --review ,$(REVIEWS)); fi

codebook: setup ## write the generated tables of a review's CODEBOOK.md [REVIEW=x]
	@test -n "$${REVIEW:-}" || { echo "usage: make codebook REVIEW=<review>"; exit 2; }
	$(PY) -m metareview.review.codebook --write --review "$$REVIEW"

new-review: setup ## scaffold a new review: data/raw/<name>/ and params/<name>.yaml [NAME=x]
	@test -n "$${NAME:-}" || { echo "usage: make new-review NAME=<review-name>"; exit 2; }
	$(PY) -m metareview.review.scaffold -- "$$NAME"

# FILE, NAME and REVIEW reach the shell through the environment (never pasted into the recipe),
# so a path with spaces, quotes or `;` is passed as one argument and runs nothing.
REVIEW_NAME_RE := ^[A-Za-z0-9][A-Za-z0-9_-]*$$
import-revman: export REVMAN_FILE = $(FILE)
import-revman: export REVMAN_NAME = $(NAME)
import-revman: setup ## import a RevMan 5 file (.rm5, CSV export, data package) as a review [FILE=path NAME=x]
	@if [ -z "$$REVMAN_FILE" ] || [ -z "$$REVMAN_NAME" ]; then \
	  echo "usage: make import-revman FILE=<file.rm5 or export.csv> NAME=<review-name>"; exit 2; fi
	@[[ "$$REVMAN_NAME" =~ $(REVIEW_NAME_RE) ]] || { \
	  echo "error: NAME '$$REVMAN_NAME': use letters, digits, '-' and '_', starting with a letter or digit"; exit 2; }
	$(PY) -m metareview.review.revman import "$$REVMAN_FILE" "$$REVMAN_NAME"

export-revman: export REVMAN_REVIEW = $(REVIEW)
export-revman: setup ## write a review's analyses in RevMan 5's CSV layout [REVIEW=x OUT=path]
	@[[ "$$REVMAN_REVIEW" =~ $(REVIEW_NAME_RE) ]] || { echo "usage: make export-revman REVIEW=<review>"; exit 2; }
	$(PY) -m metareview.review.revman export "$$REVMAN_REVIEW" $(if $(OUT),--out "$$REVMAN_OUT")

export-revman: export REVMAN_OUT = $(OUT)

test: setup ## run the test suite (fails when no test ran); property tests with fixed examples
	$(PY) -m pytest -q --hypothesis-profile=ci
	$(PY) -m pytest -q --doctest-modules src/metareview/stats

# As root (common in containers) JupyterLab needs --allow-root; LAB_ARGS adds any other option,
# e.g. make lab LAB_ARGS="--no-browser --port 8890".
LAB_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
# The server's root is the repository (reports/, data/ and params/ can be opened) and the page
# opens on notebooks/; new notebooks get the project's kernel. A path given as a trailing
# argument would become the root, so none is given.
lab: setup ## open JupyterLab on the repository, notebooks/ open, project kernel [LAB_ARGS="--port 8890 ..."]
	@# LAB_ARGS is split into words by the shell but never run as a command (no globbing)
	set -f; $(VENV)/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	  --MappingKernelManager.default_kernel_name=metareview $(LAB_ROOT) $${LAB_ARGS:-}

share: reports ## zip reports, figures, tables and Word files for coauthors [NOTEBOOKS=1 adds the executed notebooks]
	$(PY) -m metareview.run.record share $(if $(filter 1 yes true,$(NOTEBOOKS)),--with-notebooks)

fixtures: ## recompute the R reference values (needs R with metafor; bayesmeta 3.4 for the Bayesian ones, ~20 min)
	@for script in tests/fixtures/metafor/make_*.R tests/fixtures/revman/make_*.R tests/fixtures/bayesmeta/make_*.R; do \
	  echo "Rscript $$script"; Rscript "$$script"; done

clean: ## delete generated data and reports (not .venv, not results/)
	mkdir -p data/processed reports
	find data/processed reports -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf dist .make
