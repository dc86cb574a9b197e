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
# Every engine on CUDA against the CPU, timed, and one job of each kind through a real
# worker (bench/gpu_check.py; docs/benchmarks.md "GPU"). Without CUDA: the CPU half only.
# `make gpu-check ARGS=--quick` for small sizes.
.PHONY: gpu-check
gpu-check:
	$(if $(wildcard .venv/bin/python),.venv/bin/python,python3) bench/gpu_check.py $(ARGS)
