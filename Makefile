# The two commands: `make run` (set up and start the whole site) and `make test`.
.PHONY: run test bench lint
run:
	scripts/run.sh
test:
	scripts/test.sh
bench:
	.venv/bin/python bench/run_all.py
lint:
	.venv/bin/ruff check .
