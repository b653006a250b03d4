# Les mots de l'interface en français.
skip-to-content = Aller au contenu
signed-in-as = Connecté : { $who }

# --- video ---
video-heading = Vidéo
video-download = Télécharger la vidéo
video-no-copy = Le prestataire n'a fourni aucune copie lisible de cette vidéo.
video-captions = Transcription
video-summary = Résumé
video-length = Durée
video-language = Langue
video-speakers = Intervenants
video-chapters = Chapitres
video-transcript = Transcription
video-play-from = Lire à partir de
video-transcript-untimed = La transcription minutée n'a pas pu être lue : voici son texte, sans les temps.
video-record-unreadable = Les résultats de cette vidéo ne peuvent pas être lus ({ $error }). Un opérateur doit vérifier l'enregistrement normalisé du document.
# Le nom d'une langue d'après sa sous-étiquette principale ; une étiquette inconnue est affichée telle quelle.
video-language-name = { $code ->
    [ar] arabe
    [ca] catalan
    [cs] tchèque
    [cy] gallois
    [da] danois
    [de] allemand
    [el] grec
    [en] anglais
    [es] espagnol
    [eu] basque
    [fi] finnois
    [fr] français
    [ga] irlandais
    [he] hébreu
    [hi] hindi
    [hu] hongrois
    [it] italien
    [ja] japonais
    [ko] coréen
    [nb] norvégien bokmål
    [nl] néerlandais
    [no] norvégien
    [pl] polonais
    [pt] portugais
    [ro] roumain
    [ru] russe
    [sv] suédois
    [tr] turc
    [uk] ukrainien
    [zh] chinois
   *[other] { $code }
}
