# vejr: two commands on a fresh machine.
#   make demo   system libraries (if missing), build, run the pipeline on the embedded sample
#   make test   system libraries (if missing), fmt and clippy checks, the whole test suite

SYSTEM_PACKAGES := libnetcdf-dev libeccodes-dev libeccodes-tools libclang-dev libopenmpi-dev openmpi-bin libopenblas-dev pkg-config libncarg-data fonts-dejavu-core libudunits2-dev gmt-gshhg-low mesa-vulkan-drivers
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

# The CubeCL path (what CUDA runs) is tested on wgpu's CPU adapter, Mesa's lavapipe
# (mesa-vulkan-drivers): models/tests/cube_backend.rs.
GPU_PATH := --features vejr-engine/wgpu,vejr-models/wgpu,vejr-benches/wgpu

test: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets $(GPU_PATH) -- -D warnings
	$(CARGO) check -p vejr-engine --features cuda
	$(CARGO) test --workspace $(GPU_PATH)

# The demo builds with the dev profile (dependencies and the engine optimised, see Cargo.toml):
# a release build of Burn alone takes most of the demo's ten-minute budget on two cores.
VEJR_DEV := ./target/debug/vejr
# Forecasts from every initial time of the validation period whose +72 h the analyses still cover,
# scored together: one forecast is one case, and one case's scores say more about that day's
# weather than about the model (BENCHMARKS.md, eighth session).
DEMO_DATES := 1996-01-16T00 1996-01-16T06 1996-01-16T12 1996-01-16T18 1996-01-17T00 1996-01-17T06 1996-01-17T12 1996-01-17T18
DEMO_FORECASTS := $(foreach d,$(DEMO_DATES),$(DEMO_OUT)/forecast-$(subst T,,$(subst -,,$(d))).nc)

demo: deps
	$(CARGO) build --bin vejr
	@mkdir -p $(DEMO_OUT)
	$(VEJR_DEV) inspect --config configs/demo.toml /usr/share/ncarg/data/cdf/Pstorm.cdf
	$(VEJR_DEV) ingest --config configs/demo.toml --overwrite
	$(VEJR_DEV) train --config configs/demo-train.toml --overwrite
	$(VEJR_DEV) forecast --checkpoint $(DEMO_OUT)/run/best.vejr --store $(DEMO_OUT)/blizzard-1996.zarr \
		--date $(DEMO_DATES) --lead 72h --out '$(DEMO_OUT)/forecast-{reference_time}.nc' --overwrite
	$(VEJR_DEV) forecast --checkpoint $(DEMO_OUT)/run/best.vejr --store $(DEMO_OUT)/blizzard-1996.zarr \
		--date 1996-01-16T00 --lead 72h --out $(DEMO_OUT)/forecast-1996011600.grib2 --format grib --overwrite
	$(VEJR_DEV) evaluate $(foreach f,$(DEMO_FORECASTS),--forecast $(f)) --truth $(DEMO_OUT)/blizzard-1996.zarr \
		--out $(DEMO_OUT)/scores --map-variable msl --map-leads 6,24,72 --by-reference-time
	@echo
	@echo "demo: forecast NetCDF  $(DEMO_OUT)/forecast-1996011600.nc (and seven more, to $(DEMO_OUT)/forecast-1996011718.nc)"
	@echo "demo: forecast GRIB2   $(DEMO_OUT)/forecast-1996011600.grib2"
	@echo "demo: scores           $(DEMO_OUT)/scores/scores.csv (the $(words $(DEMO_DATES)) forecasts together; each one: scores_by_reference_time.csv)"
	@echo "demo: sea-level maps   $(DEMO_OUT)/scores/map_msl_006h.png $(DEMO_OUT)/scores/map_msl_024h.png $(DEMO_OUT)/scores/map_msl_072h.png"
	@echo "demo: score charts     $(DEMO_OUT)/scores/rmse_*.png $(DEMO_OUT)/scores/acc_*.png"

bench: deps
	$(CARGO) bench -p vejr-benches

clean:
	$(CARGO) clean
	rm -rf out
