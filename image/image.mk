# evsite OS image targets; included by the root Makefile (`include image/image.mk`).
#   make image            BOARD=cm4|qemu-arm64 OUT=out [CONSOLE=1] [VERSION=...]
#                         [SIGNING_PUB=release/signing.pub [SIGNING_KEY=release/signing.key]]
#                         the image and its signed bundle (default: the development key)
#   make image-inspect    check the built image without booting it
#   make image-qemu-test  boot the qemu-arm64 image under QEMU and reach the app
#   make image-variant    VARIANT=app-fails: a broken root payload for the rollback test
#   make image-update-test  the update cycle under QEMU (install, trial, commit, rollback)
BOARD ?= cm4
OUT ?= out
CONSOLE ?= 0
# The public key the image trusts for updates; empty: the development key (dev images).
SIGNING_PUB ?=
IMAGE_PY ?= .venv/bin/python

.PHONY: image image-inspect image-qemu-test image-variant image-update-test image-clean

# The build's own Python steps (wheels, the evsite wheel, signing) use the pinned .venv.
image: $(STAMP)  ## build the OS image and its signed bundle: out/evsite-<version>-$(BOARD).{img.xz,img.bmap,bundle}
	BOARD=$(BOARD) OUT=$(OUT) CONSOLE=$(CONSOLE) SIGNING_PUB=$(SIGNING_PUB) image/build.sh
	@# A release image trusts only the release key, which stays offline unless SIGNING_KEY
	@# names it: then the bundle is signed with it; a development image's bundle is signed
	@# with the development key the image trusts.
	@if [ -z "$(SIGNING_PUB)" ] || [ -n "$(SIGNING_KEY)" ]; then \
	  $(MAKE) --no-print-directory bundle BOARD=$(BOARD) OUT=$(OUT) && \
	  cd $(OUT) && sha256sum evsite-$(VERSION)-$(BOARD).bundle >> SHA256SUMS.$(BOARD) && \
	  cat SHA256SUMS.* > SHA256SUMS && echo "bundle: $(OUT)/evsite-$(VERSION)-$(BOARD).bundle"; \
	else \
	  echo "release image: sign its bundle with the offline key: make bundle BOARD=$(BOARD) SIGNING_KEY=<signing.key>"; \
	fi

image-inspect: $(STAMP)  ## inspect the built image (partitions, files, units, firewall, accounts)
	EVSITE_IMAGE_BOARD=$(BOARD) EVSITE_IMAGE_OUT=$(OUT) $(IMAGE_PY) -m pytest -q -m image tests/image -k "not qemu"

image-qemu-test: $(STAMP)  ## boot the qemu-arm64 image under QEMU: health endpoint reached, SSH closed
	EVSITE_IMAGE_BOARD=qemu-arm64 EVSITE_IMAGE_OUT=$(OUT) $(IMAGE_PY) -m pytest -q -m image tests/image/test_qemu_boot.py

image-variant:  ## a broken root payload for the rollback test: out/$(BOARD)/variants/$(VARIANT)/
	BOARD=$(BOARD) OUT=$(OUT) VARIANT=$(VARIANT) image/scripts/variant.sh

image-update-test: $(STAMP)  ## the update cycle under QEMU: web upload, trial boot, commit, rollbacks, power cuts
	EVSITE_IMAGE_BOARD=qemu-arm64 EVSITE_IMAGE_OUT=$(OUT) $(IMAGE_PY) -m pytest -q -m image tests/image/test_qemu_update.py

image-clean:  ## remove image build trees (keeps the download cache)
	rm -rf build/cm4 build/qemu-arm64
