# The two commands of the quick start:
#   make run    bring up a local control plane and S3, and run the Stowage demo against it
#   make test   run every test (unit and integration) against a real control plane and S3
.PHONY: run test build clean

run:
	scripts/run

test:
	scripts/test

build:
	swift build

clean:
	-scripts/testenv down .testenv/run
	-scripts/testenv down .testenv/test
	rm -rf .build .testenv
