# Les mots de l'interface en français.
skip-to-content = Aller au contenu
signed-in-as = Connecté : { $who }

# --- words: the pages' frame, states, list, upload, sign-in, failures, reviews, pipeline ---
common-account = Compte
common-upload = Déposer
common-pipeline = Chaîne de traitement
common-sign-out = Se déconnecter
common-sign-in = Se connecter
common-back-to-documents = Retour aux documents
common-all-documents = ← Tous les documents
common-person-evaluator = { $name } (évaluateur)
common-person-teacher = { $name } (enseignant)
common-person-uploads = { $name } (application de dépôt)
common-person-admin = { $name } (exploitant)
common-who-evaluator = un évaluateur
common-who-uploads = une application de dépôt
common-who-teacher = l'enseignant { $id }
common-who-admin = un exploitant
common-kind-document = fiche de préparation
common-kind-video = vidéo
common-age-now = à l'instant
common-age-minutes = il y a { $n } min
common-age-hours = il y a { $n } h
common-age-yesterday = hier
common-age-days = il y a { $n } jours
common-state = État
common-kind = Type
common-uploader = Déposé par
common-uploaded = Déposé
common-what-happened = Historique
common-step-received = reçu du stockage des dépôts
common-step-submitted = envoyé au prestataire
common-step-processed = traité par le prestataire
common-step-validated = résultats vérifiés
common-step-normalized = vérifié et enregistré : prêt à lire
common-step-failed = arrêté : échec
common-step-rejected = refusé par le prestataire
common-step-attempt = { $what } (tentative { $n })
# Espace insécable avant les deux-points.
common-colon = {"\u00A0: "}
common-no-such-document = Document introuvable
common-no-such-document-why = Aucun document que vous pouvez lire ne se trouve à cette adresse.
common-not-for-this-role = Non disponible pour ce rôle
common-uploads-reads-nothing = Vous vous êtes connecté avec le jeton d'une application de dépôt (rôle uploads) : elle peut déposer pour tout enseignant, mais pas lire les documents. Connectez-vous avec le jeton d'un évaluateur, ou avec le jeton personnel d'un enseignant.
common-starting = Démarrage : réessayez dans un instant
common-starting-why = Cette passerelle ne sait pas encore quelles sessions ont été fermées : elle n'a pas lu le compartiment des sessions de NATS. Si cela dure, un exploitant vérifie que NATS fonctionne et que `docflow setup` a été exécuté.
state-received = reçu
state-submitted = soumis
state-processed = traité
state-validated = validé
state-normalized = normalisé
state-failed = échoué
state-rejected = refusé
state-phase-uploading = Dépôt en cours
state-phase-processing = Traitement en cours
state-phase-ready = Prêt
state-phase-needs-action = Action requise
wait-document-under-a-minute = Une fiche de préparation est en général prête en moins d'une minute.
wait-document-minutes = Une fiche de préparation est en général prête en { $n } minutes environ.
wait-video-under-a-minute = Une vidéo est en général prête en moins d'une minute.
wait-video-minutes = Une vidéo est en général prête en { $n } minutes environ.
list-title = Documents
list-title-own = Vos documents
list-queues = Files
list-tab-to-review = À relire
list-tab-in-progress = En cours
list-tab-needs-attention = À traiter
list-tab-reviewed = Relus
list-tab-all = Tous
list-filters = Filtres
list-filter-the-documents = Filtrer les documents
list-any = tous
list-name-contains = Le nom du fichier contient
list-filter = Filtrer
list-export = Exporter cette vue en CSV
list-empty = Aucun document ne correspond.
list-caption = { $tab }, triés par { $column }
list-column-name = Fichier
list-column-state = État
list-column-kind = Type
list-column-uploader = Déposé par
list-column-findings = Remarques
list-column-review = Relecture
list-column-created-at = Déposé
list-column-updated-at = Dernier changement
list-in-folder = dans { $folder }
list-pages = Pages
list-first-page = Première page
list-previous-page = Page précédente
list-next-page = Page suivante
list-bad-filters = Ces filtres ne peuvent pas être utilisés
list-bad-query = La requête de l'adresse est mal formée.
upload-title = Déposer
upload-heading = Déposer une fiche de préparation ou une vidéo
upload-replaces = Une nouvelle version de { $name } : choisissez le fichier corrigé ci-dessous.
upload-needs-script = Le dépôt a besoin de JavaScript : le fichier va directement de votre navigateur au stockage.
upload-what = Qu'envoyez-vous ?
upload-a-lesson-plan = Une fiche de préparation
upload-a-video = Une vidéo
upload-for-teacher = Pour l'enseignant
upload-for-teacher-hint = L'identifiant de l'enseignant, tel que ses documents sont classés.
upload-file = Fichier
upload-email-me = M'écrire à { $email } quand il est prêt ou qu'il faut une nouvelle version
upload-button = Déposer
upload-progress = Avancement
upload-sent-to-store = Dépôt en cours
upload-open-document = Ouvrir le document
upload-teachers-only = Les évaluateurs lisent les documents ; les enseignants les déposent. Connectez-vous avec votre jeton d'enseignant pour déposer.
upload-js-preparing = Préparation du dépôt…
upload-js-sending = Dépôt en cours : { $n } %
upload-js-sent = Déposé. En attente de prise en charge par docflow…
upload-js-processing = Traitement en cours : { $step }.
upload-js-ready = Prêt : vérifié et prêt à lire.
upload-js-stopped = Le traitement s'est arrêté.
upload-js-reading-why = Le traitement s'est arrêté. Recherche de la raison…
upload-js-cannot-start = Le dépôt n'a pas pu commencer : { $why }
upload-js-store-refused = Le stockage a refusé le fichier (HTTP { $status }). Réessayez.
upload-js-unreachable = Le fichier n'a pas pu atteindre le stockage. Vérifiez la connexion et réessayez.
sign-in-title = Connexion
sign-in-you-are-signed-in = Vous êtes connecté
sign-in-current = Vous êtes connecté en tant que { $who }.
sign-in-go-to-documents = Aller à vos documents.
sign-in-as-someone-else = Se connecter sous une autre identité
sign-in-ends-session = Vous connecter avec un autre jeton ferme votre session en tant que { $who }.
sign-in-with-token = Ou avec un jeton d'accès
sign-in-with-provider = Se connecter avec { $provider }
sign-in-token = Votre jeton d'accès
sign-in-token-hint = Le jeton que votre exploitant vous a remis (celui d'un évaluateur, ou votre jeton d'enseignant).
sign-in-switch = Changer
sign-in-as-question = Se connecter en tant que { $who } ?
sign-in-as = Se connecter en tant que { $who }
sign-in-current-continuing = Vous êtes connecté en tant que { $who }. Continuer ferme cette session.
sign-in-stay = Rester connecté en tant que { $who }
sign-in-link-once = Ce lien de docflow dev ne sert qu'une fois.
sign-in-switch-question = Passer à { $who } ?
sign-in-current-switching = Vous êtes connecté en tant que { $who }. Vous connecter en tant que { $to } ferme cette session.
sign-in-switch-to = Passer à { $who }
sign-in-no-tokens = Cette passerelle n'a aucun jeton configuré : un exploitant doit d'abord ajouter des tables [[gateway.tokens]].
sign-in-wrong-token = Ce n'est pas l'un des jetons de cette passerelle. Vérifiez-le et réessayez.
sign-in-link-invalid = Ce lien de connexion ne peut pas servir : il a expiré, il a été fait pour un autre docflow, ou son jeton a été retiré. Rien n'a changé. docflow dev affiche de nouveaux liens à chaque démarrage ; vous pouvez aussi vous connecter avec votre jeton ci-dessous.
sign-in-link-used = Ce lien de connexion a déjà servi. Chaque lien ne sert qu'une fois : rien n'a changé. Redémarrez docflow dev pour de nouveaux liens, ou connectez-vous avec votre jeton ci-dessous.
sign-in-form-refused = Ce formulaire ne peut pas être accepté
sign-in-form-refused-why = Il ne portait pas le jeton de formulaire de ce site (il a peut-être expiré, ou vient d'un autre site). Revenez en arrière, rechargez la page et réessayez.
sign-in-unavailable = Connexion impossible pour le moment
sign-in-unavailable-why = Cette passerelle ne peut pas joindre le compartiment des sessions de NATS pour noter que le lien a servi. Réessayez dans un instant ; rien n'a changé.
sign-in-two-cookies = Reconnectez-vous
sign-in-two-cookies-why = Votre navigateur a envoyé deux cookies de session docflow. Un autre site de cet hôte a pu en poser un pour vous faire agir sous une autre identité : aucun des deux n'est utilisé. Les deux sont maintenant effacés : reconnectez-vous.
sign-in-js-as = Ce lien vous connecte en tant que { $as }.
sign-in-js-unknown = Ce n'est pas l'un des jetons de cette passerelle.
sign-in-js-current = Vous êtes connecté en tant que { $current } : vous connecter ferme cette session.
failure-what-went-wrong = Ce qui s'est passé
failure-upload-new-version = Déposer une nouvelle version
failure-teacher-new-version = Corrigez le fichier, puis déposez la nouvelle version.
failure-teacher-retry = Vous n'avez rien à changer : un évaluateur peut relancer le traitement. Vous pouvez aussi déposer le fichier à nouveau.
failure-retry = Relancer
failure-retry-explained = Le même fichier est renvoyé dans un nouveau cycle, comme le fait { $command }.
failure-only-new-version = Seule une nouvelle version du fichier peut passer : l'enseignant la dépose.
failure-technical-detail = Détail technique
failure-detail = Arrêté à l'état { $state } dans l'étape { $stage }, cause { $cause } : { $reason }
failure-retry-asked = Relance demandée : le document repart de l'état reçu dans un nouveau cycle, et cette page le suit.
failure-retry-evaluators = Ce sont les évaluateurs qui relancent les documents. Un enseignant dépose plutôt une nouvelle version depuis la page du document.
failure-retry-useless = Une relance n'y changerait rien
failure-retry-useless-why = docflow a lui-même refusé ce fichier, et refuserait de nouveau le même fichier. Seule une nouvelle version du fichier peut passer : l'enseignant la dépose.
failure-retry-unavailable = La relance n'est pas disponible ici
failure-retry-unavailable-why = Cette passerelle n'est pas reliée à la file de messages ; un exploitant peut lancer `docflow retry` à la place.
failure-not-stopped = Plus arrêté
failure-not-stopped-why = Ce document est maintenant à l'état { $state } : seul un document échoué ou refusé est relancé.
failure-retry-failed = La relance n'est pas passée
failure-retry-failed-why = La file de messages n'a pas pris la demande ; rien n'a changé. Réessayez dans un instant.
failure-file-refused = docflow a refusé ce fichier avant de l'envoyer au traitement.
failure-file-refused-why = docflow vérifie chaque fichier avant que le prestataire le voie, et celui-ci ne peut pas être traité tel quel. Rien n'a été envoyé au prestataire.
failure-upload-unreadable = Le fichier déposé n'a pas pu être lu.
failure-upload-unreadable-why = Il a été retiré du stockage des dépôts, ou docflow n'a pas le droit de le lire. Déposez le fichier à nouveau.
failure-provider-failed-job = Le prestataire n'a pas pu traiter ce fichier.
failure-provider-failed-job-why = Il a pris le fichier, puis signalé l'échec du traitement, ce qui veut souvent dire que le fichier est abîmé ou d'un type qu'il ne lit pas. Son propre message figure dans le détail technique.
failure-submission-refused = Le prestataire a refusé de prendre le fichier.
failure-submission-refused-why = Votre fichier n'est pas en cause : le prestataire a refusé la demande de docflow, ce qui veut souvent dire qu'un réglage entre docflow et le prestataire est à corriger. Une fois corrigé, le document pourra être relancé.
failure-submission-gave-up = docflow n'a pas pu remettre le fichier au prestataire, même après plusieurs essais.
failure-submission-gave-up-why = Le fichier était correct : le prestataire était injoignable ou trop occupé. Une relance plus tard a de bonnes chances de passer.
failure-results-invalid = Les résultats du prestataire n'ont pas passé les vérifications de docflow : ils ne sont pas affichés.
failure-results-invalid-why = Le fichier était correct : c'est ce que le prestataire a renvoyé qui ne l'était pas (une empreinte, une taille ou un format qui ne correspondait pas). Rien n'est à changer dans le fichier ; le document peut être relancé.
failure-results-unavailable = Les résultats du prestataire n'ont pas pu être récupérés.
failure-results-unavailable-why = Le fichier était correct : docflow n'a pas pu récupérer ou enregistrer les résultats annoncés par le prestataire. Le document peut être relancé.
failure-callback-lost = Le prestataire n'a jamais signalé la fin du travail, et docflow a cessé d'attendre.
failure-callback-lost-why = Le fichier était correct : aucune réponse n'est venue du prestataire dans le délai prévu. Le document peut être relancé.
failure-normalize-failed = Les résultats n'ont pas pu être enregistrés.
failure-normalize-failed-why = Le fichier était correct et les résultats du prestataire ont passé les vérifications de docflow, mais docflow n'a pas pu les enregistrer. Le document peut être relancé.
failure-unknown = Le traitement s'est arrêté avant que les résultats soient prêts.
failure-unknown-why = docflow n'a pas noté pourquoi (ce document s'est arrêté avant que les causes soient conservées). Le détail technique dit où il s'est arrêté.
review-title = Relecture
review-versions = Versions de ce fichier
review-version-of = Version { $n } sur { $total }
review-version-this = Version { $n } (celle-ci)
review-version = Version { $n }
review-not-yet = Pas encore relu.
review-not-yet-teacher = Aucun évaluateur n'a encore relu cette version.
review-by = { $verdict } par { $who }, { $when }
review-verdict-reviewed = Relu
review-verdict-changes-requested = Relu : modifications demandées
review-comment = Commentaire pour l'enseignant
review-verdict = Avis
review-choice-changes = Modifications demandées : déposer une nouvelle version
review-mark = Marquer comme relu
review-once-ready = Un document peut être relu une fois prêt à lire.
review-timeline-entry = relu par { $who }
review-only-evaluators = Seuls les évaluateurs relisent
review-only-evaluators-why = Les relectures sont enregistrées par les évaluateurs. Connectez-vous avec un jeton d'évaluateur pour relire.
review-not-ready = Pas prêt pour la relecture
review-not-recorded = Cette relecture ne peut pas être enregistrée
review-go-back = { $error }. Revenez au document et réessayez.
pipeline-operators-only = La vue d'ensemble de la chaîne est réservée aux exploitants : connectez-vous avec un jeton de rôle admin.
pipeline-unavailable = Vue d'ensemble indisponible
pipeline-not-connected = Cette passerelle a démarré sans les connexions de la vue d'ensemble.
pipeline-no-answer = NATS ou la base de données n'a pas répondu ; `docflow status` sur un serveur dit lequel.
pipeline-at = À { $at } ; cette page se met à jour toutes les { $seconds } secondes.
pipeline-drawing = La chaîne, du dépôt à l'évaluateur
pipeline-bucket-notifications = notifications du compartiment
pipeline-breaker = disjoncteur : { $breakers }
pipeline-ready-to-read = prêt à lire
pipeline-consumer = { $pending } en attente, { $in_flight } en cours, { $redelivered } relivrés
pipeline-no-worker = aucun processus ne consomme
pipeline-dead-letters = { $n ->
    [one] { $n } lettre morte
   *[other] { $n } lettres mortes
}
pipeline-stopped = Arrêtés : { $failed } { $failed_count ->
    [one] échoué
   *[other] échoués
}, { $rejected } { $rejected_count ->
    [one] refusé
   *[other] refusés
}. Minuterie : { $timers ->
    [one] { $timers } minuterie
   *[other] { $timers } minuteries
}, { $dead ->
    [one] { $dead } lettre morte
   *[other] { $dead } lettres mortes
}.
pipeline-oldest = Le plus ancien en cours : { $id } est { $state } depuis { $age }, en attente à { $stage }.
pipeline-nothing-in-flight = Rien en cours.
pipeline-processes = Processus qui ont répondu
pipeline-no-process = Aucun : aucun processus docflow run n'a répondu sur NATS.
# --- lesson ---
lesson-findings = Remarques
lesson-download-corrected = Télécharger le fichier corrigé ({ $name })
lesson-open-original-text = Le texte de l'original, en texte brut
lesson-open-corrected-text = Le texte corrigé, en texte brut
lesson-record-unreadable = Les remarques de ce document ne peuvent pas être affichées : son enregistrement n'a pas une forme que cette version de docflow sait lire.
lesson-no-findings = Aucune remarque : rien à corriger.
lesson-count = { $count ->
    [one] Une remarque
   *[other] { $count } remarques
}
lesson-count-unplaced = { $count ->
    [one] ({ $count } introuvable dans le texte)
   *[other] ({ $count } introuvables dans le texte)
}
lesson-filters = Afficher les remarques par gravité et par catégorie
lesson-filter-severity = Gravité
lesson-filter-category = Catégorie
lesson-no-filter-match = Aucune remarque des types choisis.
lesson-severity-major = Majeure
lesson-severity-minor = Mineure
lesson-severity-info = Pour information
lesson-category-spelling = Orthographe
lesson-category-grammar = Grammaire
lesson-category-style = Style
lesson-category-clarity = Clarté
lesson-category-other = Autre
lesson-page = page { $page }
lesson-paragraph = paragraphe { $paragraph }
lesson-show-in-text = Voir « { $words } » dans le texte
lesson-unplaced = Introuvable dans le texte : l'extrait est affiché tel que le prestataire l'a donné.
lesson-suggested = Suggestion : { $suggestion }
lesson-original-text = Texte original
lesson-corrected-text = Texte corrigé
lesson-text-truncated = Ce texte est long : seuls ses { $mib } premiers Mio sont affichés. Téléchargez le fichier pour le lire en entier.
lesson-no-original-file = Le fichier déposé n'est plus dans l'entrepôt.
lesson-no-corrected-file = Le prestataire n'a envoyé aucun fichier corrigé.
lesson-text-unsupported = Le format de ce fichier n'a pas de texte affichable ici (le texte, le PDF, Word .docx et OpenDocument .odt en ont) : téléchargez le fichier pour le lire.
lesson-text-unreadable = Ce fichier n'a pas pu être lu comme { $format } : téléchargez le fichier pour le lire.
lesson-text-too-large = Ce fichier dépasse { $mib } Mio, son texte n'est donc pas affiché ici : téléchargez le fichier pour le lire.
lesson-text-store = Le texte ne peut pas être lu dans l'entrepôt pour l'instant : rechargez la page dans un moment.
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
# --- pre-flight refusals (the stored reason, worded for the reader) ---
refusal-empty = Le fichier est vide (0 octet) : rien n'est arrivé ; déposez-le à nouveau.
refusal-unreadable = Ce fichier ne se lit pas comme un document (ce n'est ni du texte, ni du PDF, ni du Word, ni de l'OpenDocument) ; déposez la fiche de préparation dans l'un de ces formats.
refusal-too-large = Le fichier fait { $size }, plus que les { $limit } qu'accepte le service de traitement (providers.{ $provider }.max_size) ; envoyez un fichier plus court ou plus léger.
refusal-not-a-document = Ce fichier est { $what } ({ $extension }), pas un document ; déposez la fiche de préparation en PDF, Word, OpenDocument ou texte brut.
refusal-kind-picture = une image
refusal-kind-video = une vidéo (déposez-la comme vidéo)
refusal-kind-sound = un enregistrement sonore
refusal-kind-program = un programme
refusal-kind-archive = une archive compressée
refusal-kind-font = une police de caractères
refusal-kind-unknown = d'un type inconnu
refusal-mismatch = Ce fichier s'appelle .{ $extension } mais n'est pas un fichier { $format } (il est peut-être abîmé, ou n'a pas été enregistré dans ce format) ; enregistrez-le à nouveau, puis déposez-le.
refusal-active = Ce fichier est { $what }, qu'un navigateur ouvrirait comme une page ou exécuterait comme un programme : docflow ne le prend donc pas ; déposez les fiches de préparation en PDF, Word, OpenDocument, RTF ou texte brut, et les vidéos.
refusal-active-extension = un fichier .{ $extension }
# --- sign-in through an OpenID provider ---
oidc-not-configured = Aucun fournisseur de connexion
oidc-not-configured-why = Ce docflow n'a pas de fournisseur OpenID configuré ([oidc] dans ses réglages). Connectez-vous avec votre jeton d'accès.
oidc-start-again = Cette connexion ne peut pas aboutir
oidc-start-again-why = { $why } Rien n'a changé : connectez-vous à nouveau, et terminez chez { $provider } en quelques minutes.
oidc-why-expired = Elle a pris plus de dix minutes, ou elle a commencé dans un autre navigateur.
oidc-why-other-browser = La réponse n'appartient pas à la connexion commencée dans ce navigateur.
oidc-why-late = Cette étape suit immédiatement la page du fournisseur, dans les cinq minutes.
oidc-the-provider = votre fournisseur de connexion
oidc-did-not-sign-in = { $provider } ne vous a pas connecté
oidc-did-not-sign-in-why = Sa réponse : { $answer }. Rien n'a changé ; vous pouvez vous connecter à nouveau.
oidc-unreachable = Impossible de joindre { $provider }
oidc-unreachable-why = docflow n'a pas pu parler au fournisseur de connexion. Réessayez dans un instant ; si cela dure, prévenez votre administrateur.
oidc-untrusted = Cette connexion n'est pas digne de confiance
oidc-untrusted-why = docflow vérifie la réponse de { $provider } avant de connecter qui que ce soit, et celle-ci a échoué à une vérification : personne n'a été connecté. Connectez-vous à nouveau ; si cela se reproduit, prévenez votre administrateur.
oidc-detail = Détail : { $error }.
oidc-someone = quelqu'un
oidc-no-role = docflow n'a pas de rôle pour vous
oidc-no-role-why = Vous vous êtes connecté chez { $provider } en tant que { $name }, mais votre compte n'appartient à aucun des groupes qui donnent un rôle dans docflow (sa revendication `{ $claim }` ne contient aucune de ces valeurs : { $evaluators } pour les évaluateurs ; { $teachers } pour les enseignants). Demandez à votre administrateur de vous ajouter au bon groupe pour docflow, puis connectez-vous à nouveau.
oidc-no-uploader-id = docflow ne peut pas nommer vos dépôts
oidc-no-uploader-id-why = Vous vous êtes connecté chez { $provider } en tant que { $name }, enseignant, mais la revendication `{ $claim }` de votre compte ne peut pas nommer vos dépôts : { $problem }. Demandez à votre administrateur de la corriger chez { $provider }, puis connectez-vous à nouveau.
oidc-uploader-id-empty = elle est absente ou vide
oidc-uploader-id-unprintable = elle contient un caractère de contrôle ou invisible
oidc-uploader-id-too-long = elle dépasse { $max } octets
oidc-signing-in = Connexion en cours
oidc-signed-in-at = Connecté chez { $provider } en tant que { $name }.
oidc-continue = Continuer
oidc-signed-out = Déconnecté
oidc-signed-out-of-docflow = Déconnecté de docflow
oidc-signing-out-at = Déconnexion de { $provider } en cours.
