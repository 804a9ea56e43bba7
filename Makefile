# vejr: two commands on a fresh machine.
#   make demo   system libraries (if missing), build, run the pipeline on the embedded sample
#   make test   system libraries (if missing), fmt and clippy checks, the whole test suite

SYSTEM_PACKAGES := libnetcdf-dev libeccodes-dev libclang-dev libopenmpi-dev openmpi-bin pkg-config libncarg-data
CARGO ?= cargo
DEMO_OUT := out/demo

.PHONY: demo test deps build bench clean

# Installs what is missing when running as root; otherwise names the one command to run, exit 2.
deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing system packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
		else \
			echo "missing system packages; run: sudo apt-get install -y$$missing"; exit 2; \
		fi; \
	fi

build: deps
	$(CARGO) build --release --bin vejr

test: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) check -p vejr-engine --features cuda
	$(CARGO) test --workspace

demo: build
	@mkdir -p $(DEMO_OUT)
	./target/release/vejr inspect --config configs/demo.toml /usr/share/ncarg/data/cdf/Pstorm.cdf
	./target/release/vejr ingest --config configs/demo.toml --overwrite
	@echo
	@echo "demo: training store of the January 1996 blizzard analyses: $(DEMO_OUT)/blizzard-1996.zarr"
	@echo "demo: training, forecast and verification are not in the vejr command yet, so there is no forecast NetCDF or plot to show."

bench: deps
	$(CARGO) bench -p vejr-benches

clean:
	$(CARGO) clean
	rm -rf out
