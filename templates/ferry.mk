# ferry.mk: offload a Snakemake target with `make`. Include it from your Makefile:
#
#   include ferry.mk            (copy it from ferry's templates directory)
#   make ferry-bootstrap FERRY_FLAGS='--cidr 203.0.113.7/32'
#   make ferry-run TARGET=results/report.txt CORES=32
#   make ferry-teardown
#
# Variables: FERRY (the ferry program), FERRY_NAME (the deployment), FERRY_FLAGS (more options for
# every command, e.g. --host user@login.hpc to use an HPC node instead of EC2), TARGET, CORES.

FERRY ?= ferry
FERRY_NAME ?= ferry
FERRY_FLAGS ?=
TARGET ?=
CORES ?= all

ferry_require_target = $(if $(strip $(TARGET)),,$(error set TARGET=, e.g. make $@ TARGET=results/report.txt))

.PHONY: ferry-bootstrap ferry-run ferry-push ferry-pull ferry-status ferry-stop ferry-teardown

ferry-bootstrap:
	$(FERRY) bootstrap --name '$(FERRY_NAME)' $(FERRY_FLAGS)

ferry-run:
	$(ferry_require_target)
	$(FERRY) run --name '$(FERRY_NAME)' --cores '$(CORES)' $(FERRY_FLAGS) $(TARGET)

ferry-push:
	$(ferry_require_target)
	$(FERRY) push --name '$(FERRY_NAME)' $(FERRY_FLAGS) $(TARGET)

ferry-pull:
	$(ferry_require_target)
	$(FERRY) pull --name '$(FERRY_NAME)' $(FERRY_FLAGS) $(TARGET)

ferry-status:
	$(FERRY) status --name '$(FERRY_NAME)'

ferry-stop:
	$(FERRY) stop --name '$(FERRY_NAME)'

ferry-teardown:
	$(FERRY) teardown --name '$(FERRY_NAME)' --yes
