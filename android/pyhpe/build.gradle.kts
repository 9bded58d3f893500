// Android library module: the Kotlin HeadPoseEstimator + libpyhpe_jni.so (NDK, CMake).
// Build steps (needs the Android SDK + NDK, which these development machines lack): docs/android.md
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.pyhpe"
    compileSdk = 34
    ndkVersion = "26.3.11579264"

    defaultConfig {
        minSdk = 24
        ndk { abiFilters += listOf("arm64-v8a") }
        externalNativeBuild {
            cmake {
                arguments += listOf(
                    "-DANDROID_STL=c++_static",
                    "-Dncnn_DIR=" + (project.findProperty("ncnnDir") as String? ?: error("pass -PncnnDir=<ncnn android install>/lib/cmake/ncnn")),
                )
            }
        }
    }
    externalNativeBuild {
        cmake {
            path = file("src/main/cpp/CMakeLists.txt")
            version = "3.22.1"
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}
