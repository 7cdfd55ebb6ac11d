"""The ``openface.au-2.2`` files: OpenFace 2.2.0's AU predictors, PDM and triangulation.

Pinned to tag OpenFace_2.2.0 of TadasBaltrusaitis/OpenFace. Academic / non-commercial licence: see
``OpenFace-license.txt`` in that repository. pyfacs reads these files; it ships none of them.
"""
from __future__ import annotations

from pyfacs.models.registry import ModelFile, ModelSpec

BASE_URL = "https://raw.githubusercontent.com/TadasBaltrusaitis/OpenFace/OpenFace_2.2.0/lib/local/FaceAnalyser"
LICENCE = ("OpenFace academic licence: non-commercial research use only "
           "(https://github.com/TadasBaltrusaitis/OpenFace/blob/master/OpenFace-license.txt)")

_FILES = [
    ("AU_predictors/AU_all_best.txt", "61704fa352733807e54410b30bfb60a44e99d94482cc6b46f19ae0549a06fddf"),
    ("AU_predictors/AU_all_static.txt", "56073ec8a2d971f20d9f2d97a706a139093a02016544f2b8f1e58f5166a1215b"),
    ("AU_predictors/In-the-wild_aligned_PDM_68.txt", "b9eafb292b18505b55cdbc5d8ba45413709cd300cf3e7e8d1946cd0f5c5b94b1"),
    ("AU_predictors/svm_combined/AU_10_static.dat", "12fe3cce73070e193137bc6b87a22f5a4a2f0a4dcd03f20bfbc3a9e60e198e49"),
    ("AU_predictors/svm_combined/AU_12_static.dat", "a714ce6d56f7d6347cace0e82555a615300f5f6cee3bd68ad3e3c40834344017"),
    ("AU_predictors/svm_combined/AU_14_static.dat", "5fa7b19767808b9dd97ca49ff773ba7fdf6bbf2e754dded9d305b80e002497f5"),
    ("AU_predictors/svm_combined/AU_15_dynamic.dat", "5bb2e37ccd2dacedfd9fbb3b2ed0a13aa0c16d35e95df5285b98c39eb7b42804"),
    ("AU_predictors/svm_combined/AU_15_static.dat", "ad20720efc7fd21b7f13e2a24f27b4350cda8bc5ec1d3d032694b08bc51f054c"),
    ("AU_predictors/svm_combined/AU_17_dynamic.dat", "734269d134ca4c6ef2f021aac0de62efe0c6c454b58a92201aaec0b823a07e14"),
    ("AU_predictors/svm_combined/AU_17_static.dat", "56b99b0ab96524588f084c129e89a6fdb2ed83b1d1ebba9383d2908ff9c775d7"),
    ("AU_predictors/svm_combined/AU_1_static.dat", "1dd31442ee057facb5ee1c5f2ab7e265fefcaf43d864a371ca19cfdd8fe4af53"),
    ("AU_predictors/svm_combined/AU_1_dynamic.dat", "5c1e0e5a0370d0e633890b111fdd598c785f52a8146f315f02a7cc08e0c25d72"),
    ("AU_predictors/svm_combined/AU_20_dynamic.dat", "a40479450306a82ce4fd097a68195dda46683e62415c6e76503a4b4bc8e470be"),
    ("AU_predictors/svm_combined/AU_20_static.dat", "e4a0e078f77ac58d90fdbd7963a890a699a6a9b705f3849a1ac54eacf00c2c13"),
    ("AU_predictors/svm_combined/AU_23_static.dat", "2954a061adc4eccd5cfd21396be3a89a6cd8c1894e42247aa7eae19539f54504"),
    ("AU_predictors/svm_combined/AU_25_dynamic.dat", "c7fc5b453787d4f68c49da83b32db55b32cf1ac59770473955d7bbbec866f6e4"),
    ("AU_predictors/svm_combined/AU_25_static.dat", "782fc00d022fef813882e0957f730a23088978c85786c7c87d8422c27a433e8b"),
    ("AU_predictors/svm_combined/AU_26_dynamic.dat", "61ebe15997c34d0a90ef8829492475d51bdb7ca02900a213bf481083a2f3df1b"),
    ("AU_predictors/svm_combined/AU_26_static.dat", "78fafce9fdbeaf27671e86ebaf913165b6cc181b09bde7989a847035f7de51f0"),
    ("AU_predictors/svm_combined/AU_28_dynamic.dat", "5cb9f6cc232d0cb3a4a0e8c733a4fe4f2fea5e3ca6df97225e10ab10cbc89d1c"),
    ("AU_predictors/svm_combined/AU_28_static.dat", "f2a991837cb00e2c1a6983dace2458822beb64499da22548b3839b06b74e2bbc"),
    ("AU_predictors/svm_combined/AU_2_dynamic.dat", "67b27c091673808dd75b0c3cfe64f8ce03d8b7b94db2a6ed31ec18c8c90b6983"),
    ("AU_predictors/svm_combined/AU_2_static.dat", "f86dff9012730ea95b2dc0434f74fbf799da47c187b51e7e61b91c23612710dc"),
    ("AU_predictors/svm_combined/AU_45_dynamic.dat", "5bc5ecbaf851434b1242a816755c591fe3a3ab89e25b70f496d5382192d0e944"),
    ("AU_predictors/svm_combined/AU_45_static.dat", "ef59f6cf576dafd95067a422fc76e6bdbe0e3b4b0b01fb513588897fada29152"),
    ("AU_predictors/svm_combined/AU_4_static.dat", "641668301d463723bc1f5d27532a6f334b1943382f115d6fdd584b3ab2fccf6d"),
    ("AU_predictors/svm_combined/AU_5_static.dat", "b17cf060623b42679e0cabd2d3831e5a0b964d899424d228a70e933d96a3bed9"),
    ("AU_predictors/svm_combined/AU_6_static.dat", "488232893383fbcd966e48b99578f7529b1cdef14475fc6c00b5a6494ff24333"),
    ("AU_predictors/svm_combined/AU_7_static.dat", "1d9811e094f568a411fdb64d11655c227e1e4fe11f06736c80cd78bc0eae9b23"),
    ("AU_predictors/svm_combined/AU_9_dynamic.dat", "d9ee8c0901d9cbc85f89615b9f77fd6e7527c02140beed5b03fd8cd86c38062a"),
    ("AU_predictors/svm_combined/AU_9_static.dat", "db71cd0204da64ca2e1dfd74d1f2f84958a0501dfcd99e809ee44549a47bf458"),
    ("AU_predictors/svr_combined/AU_10_static_intensity_comb.dat", "f97e1f9dd70810e59e356cdfa5dcceedec184b831f680a01f629467c6930f474"),
    ("AU_predictors/svr_combined/AU_12_static_intensity_comb.dat", "fd895c3272abb0a3c612d0e9d002cf2fb86b93c79b477126a1ae10f310e6a928"),
    ("AU_predictors/svr_combined/AU_14_static_intensity.dat", "dce666400f38454807ce2bfb0553b3175eb34ab555db0b2bd0658518d6d9e2d2"),
    ("AU_predictors/svr_combined/AU_15_dynamic_intensity_comb.dat", "f1dcf770fbd52e102f8e904cb087414b880b7924bb717bb9b791d94a2186bbf1"),
    ("AU_predictors/svr_combined/AU_15_static_intensity_comb.dat", "2d10fcda0b7cffe6f66348edae70ad6c055e0759ac6c3ce5ce3d567ae724709a"),
    ("AU_predictors/svr_combined/AU_17_dynamic_intensity_comb.dat", "7dc6a65e21e4c3686517af8c68c741f300781cda7b1ea9c972f3cae968e55c50"),
    ("AU_predictors/svr_combined/AU_17_static_intensity_comb.dat", "a96b9717bac55fa3055e8278f39bb624ecbd10bd42343d10f574588f1704f09f"),
    ("AU_predictors/svr_combined/AU_1_dynamic_intensity_comb.dat", "ee09197389d14c15c04239158db550368122d7c57bca16cf47d5a31ab35d78d0"),
    ("AU_predictors/svr_combined/AU_1_static_intensity_comb.dat", "969a11366e8e481ce5162c8a543f50e9a3aeeee687c0182c561886712298ee4a"),
    ("AU_predictors/svr_combined/AU_20_dynamic_intensity.dat", "3bcd6639ee770970f4507344b7ed78b73035d108c41bfe8fad82d64b9ea2af4f"),
    ("AU_predictors/svr_combined/AU_20_static_intensity.dat", "3575b65364f39aff17a38e4b0d08fa167c166859be11c6f918f43d9b4fe652c9"),
    ("AU_predictors/svr_combined/AU_23_dynamic_intensity_comb.dat", "415d2fb7b3d4b2a384f584b6081a72497fdabaf1d9bbb13f7b147b8a1fada2b7"),
    ("AU_predictors/svr_combined/AU_23_static_intensity_comb.dat", "019e8c56b0951969fd8b4f39d740c35ffe53719cbc16589bb65beb1bf316b690"),
    ("AU_predictors/svr_combined/AU_25_dynamic_intensity_comb.dat", "4e1f4b79e309bbb7104a6ff0ad269790f6c23ae50f8901ed4e5f5772e3cd74e7"),
    ("AU_predictors/svr_combined/AU_25_static_intensity.dat", "b8110ef45db372507fc3449ff7e273003053794d313473865a1d6a905f132a46"),
    ("AU_predictors/svr_combined/AU_26_dynamic_intensity_comb.dat", "d1bf66b8d31e26ca2fc4d2b9223535563eefdfe88ccbd0d9a2372cd7958d2882"),
    ("AU_predictors/svr_combined/AU_26_static_intensity_comb.dat", "2d7c1a8fd1a964c4091af39c5c4b94b7840e8df9d0501aaefb8c2f32236806c1"),
    ("AU_predictors/svr_combined/AU_2_dynamic_intensity_comb.dat", "d47d0444f225528f70a66d57634a1d6127dab902a3a54104ff7fa6f0c0f2f94b"),
    ("AU_predictors/svr_combined/AU_2_static_intensity_comb.dat", "99c30b5abd61c0665e4687cf8b60b80d5406c2fe570c0e1c3a399889ab698790"),
    ("AU_predictors/svr_combined/AU_45_dynamic_intensity_comb.dat", "2b69232af9fc7cd1014623b53fb36a20a4a3b0f6ee2388583ad4bc383f6e356d"),
    ("AU_predictors/svr_combined/AU_45_static_intensity_comb.dat", "7a87cbe04e2cbca5176ab1c1ed7f3a253fde0686defb018ebe159b4f51cb957f"),
    ("AU_predictors/svr_combined/AU_4_static_intensity_comb.dat", "40944f7bdb63506a01347edacb113d7f3073a82d926a782b264a5cbfde2127c6"),
    ("AU_predictors/svr_combined/AU_5_dynamic_intensity.dat", "d9aa0162f10b9d066484095f1d45543fae18f384f4fc3e95ccc7b453a30c04d6"),
    ("AU_predictors/svr_combined/AU_5_static_intensity.dat", "be0fe3db756c6178a54c62c2a149f1ba242e6c37a67e3205358390f57d9640a4"),
    ("AU_predictors/svr_combined/AU_6_static_intensity_comb.dat", "3b63e59596ece180bd20757cc59916b27d258b77346a0d01fbae000a00b48408"),
    ("AU_predictors/svr_combined/AU_7_static_intensity_comb.dat", "a577f1192b954bebec36a88360e15162bb06b76209e574af249ef6f824d9188d"),
    ("AU_predictors/svr_combined/AU_9_dynamic_intensity.dat", "fc12e797479e02489f8a809d5d81d025bd2e75a9fd7ba8333211a9ac8355341b"),
    ("AU_predictors/svr_combined/AU_9_static_intensity.dat", "c795e596f5babba317cd1060029747797a0da8451be1c69ff3d4da3dd377965c"),
    ("AU_predictors/tris_68_full.txt", "d79b0c786bf497ddf18b97080e5949c67781ca1c017e558374883a1821b17181"),
]

SPEC = ModelSpec(
    name="openface.au-2.2",
    task="au",
    files=tuple(ModelFile(path, sha) for path, sha in _FILES),
    licence=LICENCE,
    source=BASE_URL,
    labels=("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
            "AU17", "AU20", "AU23", "AU25", "AU26", "AU28", "AU45"),
    input_size=(112, 112),
    base_url=BASE_URL,
    mirror_dir="openface-2.2.0",
    notes="Linear SVR intensity (17 AUs) and SVM presence (18 AUs) on FHOG + PDM geometry.",
)
