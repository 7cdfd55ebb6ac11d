"""A port of OpenFace 2.2's AU analysis, written from the papers and the model file formats:
PDM fitting, similarity alignment with the face mask, FHOG, geometry features, linear SVR/SVM,
person-specific running medians and the end-of-video calibration and smoothing."""
