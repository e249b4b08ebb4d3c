"""Ingestion of hospital files (DICOM, DICOM-ECG, WFDB, NIfTI, VCF, FHIR, CSV) into the record and the store.

Heavy readers (pydicom, wfdb, nibabel, cyvcf2, fhir.resources) are imported inside the format modules only,
so ``import nextgen_ml`` stays light. Entry points: :func:`nextgen_ml.ingest.pipeline.ingest` and the
``nextgen-ml ingest MANIFEST --out DIR`` command (:mod:`nextgen_ml.ingest.cli`). See ``docs/ingest.md``.
"""
